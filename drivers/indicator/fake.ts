import type { Indicator, IndicatorBackend, Output, Pattern, Tone } from './types.ts';
import { ALL_OUTPUTS } from './types.ts';

export interface FakeBackendEvent {
  readonly t: number;
  readonly output: Output;
  readonly on: boolean;
  readonly tone?: Tone;
  readonly blink?: { readonly onMs: number; readonly offMs: number };
}

export interface FakeIndicatorBackendOptions {
  outputs?: readonly Output[];
  /** Accept blink() like a kernel LED would (default false: the player blinks in software). */
  kernelBlink?: boolean;
  now?: () => number;
  /** Make open() fail with this error (tests of the composition root). */
  openError?: Error;
}

/** Records every output write; `state()` answers what a person looking at the box would see. */
export class FakeIndicatorBackend implements IndicatorBackend {
  readonly outputs: readonly Output[];
  readonly events: FakeBackendEvent[] = [];
  readonly begun: { pattern: Pattern; summary: string }[] = [];
  opened = false;
  closed = false;
  private readonly kernelBlink: boolean;
  private readonly now: () => number;
  private readonly openError: Error | undefined;
  private readonly current = new Map<Output, 'off' | 'on' | 'blink'>();

  constructor(opts: FakeIndicatorBackendOptions = {}) {
    this.outputs = opts.outputs ?? ALL_OUTPUTS;
    this.kernelBlink = opts.kernelBlink ?? false;
    this.now = opts.now ?? Date.now;
    this.openError = opts.openError;
  }

  async open(): Promise<void> {
    if (this.openError) throw this.openError;
    for (const o of this.outputs) this.current.set(o, 'off');
    this.opened = true;
    this.closed = false;
  }

  set(output: Output, on: boolean, tone?: Tone): void {
    if (!this.outputs.includes(output)) return;
    this.current.set(output, on ? 'on' : 'off');
    this.events.push(tone ? { t: this.now(), output, on, tone } : { t: this.now(), output, on });
  }

  blink(output: Output, onMs: number, offMs: number): boolean {
    if (!this.kernelBlink || !this.outputs.includes(output)) return false;
    this.current.set(output, 'blink');
    this.events.push({ t: this.now(), output, on: true, blink: { onMs, offMs } });
    return true;
  }

  begin(pattern: Pattern, summary: string): void {
    this.begun.push({ pattern, summary });
  }

  async close(): Promise<void> {
    for (const o of this.outputs) this.current.set(o, 'off');
    this.opened = false;
    this.closed = true;
  }

  state(output: Output): 'off' | 'on' | 'blink' {
    return this.current.get(output) ?? 'off';
  }

  /** Events of one output, times relative to `since`. */
  timeline(output: Output, since = 0): { at: number; on: boolean }[] {
    return this.events.filter((e) => e.output === output).map((e) => ({ at: e.t - since, on: e.on }));
  }

  reset(): void {
    this.events.length = 0;
    this.begun.length = 0;
  }
}

/** An Indicator that only records what it was asked to show. */
export class FakeIndicator implements Indicator {
  readonly shown: Pattern[] = [];
  base: Pattern = 'ready';
  opened = false;
  closed = false;

  async open(): Promise<void> {
    this.opened = true;
  }

  show(pattern: Pattern): void {
    this.shown.push(pattern);
  }

  setBase(pattern: Pattern): void {
    this.base = pattern;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  get last(): Pattern | undefined {
    return this.shown.at(-1);
  }

  reset(): void {
    this.shown.length = 0;
  }
}
