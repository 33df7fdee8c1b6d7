// How a setting is named to the user: the schema key `healthListen` is the flag
// --health-listen and the env var TABBY_HEALTH_LISTEN. Errors name both, so an operator can
// find the setting whichever way it was given.

export const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const envName = (key: string): string => `TABBY_${kebab(key).replaceAll('-', '_').toUpperCase()}`;
/** "--health-listen (TABBY_HEALTH_LISTEN)". */
export const settingName = (key: string): string => `--${kebab(key)} (${envName(key)})`;
