/**
 * The logger shape every part receives through its constructor. pino's Logger satisfies it.
 * Never pass keys, plaintext payments or full account tokens in `obj` or `msg`.
 */
export interface Log {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Log;
}

/** A logger that drops everything (tests, tools). */
export const silentLog: Log = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLog;
  },
};

/**
 * Rate-limits a noisy log line (SD cards wear out): at most `perWindow` lines per `windowMs`;
 * the first line after a quiet window reports how many were suppressed.
 */
export function rateLimited(log: Log, windowMs: number, perWindow: number, now: () => number = Date.now) {
  let windowStart = Number.NEGATIVE_INFINITY;
  let shown = 0;
  let suppressed = 0;
  return (level: 'warn' | 'info' | 'error', obj: object, msg: string): void => {
    const t = now();
    if (t - windowStart >= windowMs) {
      windowStart = t;
      shown = 0;
    }
    if (shown < perWindow) {
      shown++;
      log[level](suppressed > 0 ? { ...obj, suppressed } : obj, msg);
      suppressed = 0;
    } else {
      suppressed++;
    }
  };
}
