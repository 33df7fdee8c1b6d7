// The logging surface every stage takes. pino's Logger satisfies it; tests pass a silent
// one. Declared here so that no stage needs to import the logging library.

type LogFn = (obj: object | string, msg?: string) => void;

export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
