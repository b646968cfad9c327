/**
 * Exponential backoff with "equal jitter": delay n = half of min(maxMs, baseMs * 2^n) plus a
 * random share of the other half, so a fleet of boxes coming back online does not hit the back
 * end in lockstep, and no box waits less than half the nominal delay.
 */

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** Injected randomness in [0, 1); tests pass a constant. */
  random: () => number;
}

export class Backoff {
  private attempt = 0;
  constructor(private readonly o: BackoffOptions) {}

  /** The delay before the next try; each call doubles the nominal delay up to maxMs. */
  next(): number {
    const nominal = Math.min(this.o.maxMs, this.o.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    const r = Math.min(Math.max(this.o.random(), 0), 1);
    return Math.round(nominal / 2 + (nominal / 2) * r);
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}

/** Injected timers (fake timers in tests). */
export interface SyncTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemSyncTimers: SyncTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};
