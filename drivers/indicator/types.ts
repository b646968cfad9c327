/**
 * The indicator driver kind: LEDs and a buzzer that tell the merchant and the customer what the box did.
 * Two layers:
 *  - `IndicatorBackend`: switches one output on or off (GPIO via onoff, kernel LEDs, a console, a fake).
 *  - `Indicator`: shows a named pattern (drivers/indicator/player.ts plays one against a backend).
 */

/** What the box wants to say. See the merchant table in drivers/indicator/patterns.ts. */
export const Pattern = {
  Ready: 'ready',
  Busy: 'busy',
  Accepted: 'accepted',
  /** The customer must fix something: wrong merchant, expired credential, bad code, over limit... */
  DeclinedCustomer: 'declined-customer',
  /** Try again: stale code, too fast, no pending charge. */
  DeclinedRetry: 'declined-retry',
  /** The box itself failed: journal I/O error, disk full. Nothing was charged. */
  DeclinedFault: 'declined-fault',
  /** Ready, but payments wait to be sent to the acquirer. */
  OfflineBacklog: 'offline-backlog',
  /** The box cannot take payments. */
  Fault: 'fault',
} as const;
export type Pattern = (typeof Pattern)[keyof typeof Pattern];
export const ALL_PATTERNS: readonly Pattern[] = Object.values(Pattern);

export const Output = {
  Green: 'green',
  Red: 'red',
  /** Optional LED; patterns fall back to red or drop it when missing. */
  Amber: 'amber',
  /** Optional LED; no built-in pattern needs it. */
  Blue: 'blue',
  Buzzer: 'buzzer',
} as const;
export type Output = (typeof Output)[keyof typeof Output];
export const ALL_OUTPUTS: readonly Output[] = Object.values(Output);

/** Pitch hint for a passive (PWM) buzzer; an active buzzer has one pitch and ignores it. */
export type Tone = 'high' | 'low';

export interface IndicatorBackend {
  /** The outputs this backend really drives. The player never touches others. */
  readonly outputs: readonly Output[];
  /** Claims the hardware and switches every output off. The only method that throws. */
  open(): Promise<void>;
  /** Switches an output; stops a kernel blink on it first. Never throws: failures are counted and logged. */
  set(output: Output, on: boolean, tone?: Tone): void;
  /**
   * Optional kernel-offloaded blink that keeps going if Node stalls.
   * Returns false when this output cannot blink in the kernel; the player then blinks in software.
   */
  blink?(output: Output, onMs: number, offMs: number): boolean;
  /** Optional hint: a new pattern starts (the console backend prints one line per pattern). */
  begin?(pattern: Pattern, summary: string): void;
  /** Switches every output off and releases the hardware. */
  close(): Promise<void>;
}

export interface Indicator {
  open(): Promise<void>;
  /** Shows a pattern now, cancelling the current one. A transient pattern returns to the base afterwards. */
  show(pattern: Pattern): void;
  /** The pattern shown when nothing else is (`ready` or `offline-backlog`). */
  setBase(pattern: Pattern): void;
  close(): Promise<void>;
}

/** Injected timers, so patterns run under fake timers in tests. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
