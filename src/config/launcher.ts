// Whether this process's lifetime is bound to the process that launched it. npm and npx run
// a command through `sh -c`; on SIGTERM npm signals only that shell, which dies without
// passing the signal on, so the command would outlive its launcher with its ports held.
// npm marks the environment of what it runs with npm_lifecycle_event ("start", "npx", ...).

export function launchedByNpm(env: NodeJS.ProcessEnv = process.env): boolean {
  return env['npm_lifecycle_event'] !== undefined;
}
