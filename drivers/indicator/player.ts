import type { Log } from '../common/log.ts';
import { silentLog } from '../common/log.ts';
import { isTransient, resolveSchedule, type Schedule, scheduleFor, type Step } from './patterns.ts';
import { type Indicator, type IndicatorBackend, type Output, type Pattern, systemTimers, type Timers, type Tone } from './types.ts';

/** One output write, as seen by observers. `t` is from the injected clock (ms). */
export interface PlayerEvent {
  readonly t: number;
  readonly pattern: Pattern;
  readonly output: Output;
  readonly on: boolean;
  /** Set when the write handed a blink to the kernel. */
  readonly blink?: { readonly onMs: number; readonly offMs: number };
  /** True for the first output write of this showing of the pattern. */
  readonly first: boolean;
}

export interface IndicatorPlayerOptions {
  backend: IndicatorBackend;
  timers?: Timers;
  now?: () => number;
  log?: Log;
  /** Pattern shown after a transient one; `ready` unless set. */
  base?: Pattern;
  onEvent?: (e: PlayerEvent) => void;
  /** Replace the built-in schedules (tests, other hardware). */
  schedules?: (p: Pattern) => Schedule;
}

type OutputState = 'off' | 'on' | 'kernel-blink';

interface SoftBlink {
  readonly output: Output;
  readonly onMs: number;
  readonly offMs: number;
  nextAt: number;
  nextOn: boolean;
}

/**
 * Plays pattern schedules against a backend with injected timers.
 *
 * INVARIANTS: at most one timer is armed at any time (`timer`); every timer callback checks that its
 * `generation` is still current, so a show() that cancels a schedule can never be overtaken by a stale tick;
 * the player writes an output only when its recorded state differs, so `firstWriteAt` is the moment the
 * pattern first became visible or audible.
 */
export class IndicatorPlayer implements Indicator {
  private readonly backend: IndicatorBackend;
  private readonly timers: Timers;
  private readonly now: () => number;
  private readonly log: Log;
  private readonly onEvent: ((e: PlayerEvent) => void) | undefined;
  private readonly schedules: (p: Pattern) => Schedule;
  private readonly states = new Map<Output, OutputState>();
  private readonly firstWrites = new Map<Pattern, number>();
  private basePattern: Pattern = 'ready';
  private currentPattern: Pattern | null = null;
  private opened = false;
  private generation = 0;
  private timer: unknown = null;
  private startedAt = 0;
  private firstPending = false;
  private schedule: Schedule | null = null;
  private pendingSteps: Step[] = [];
  private softBlinks: SoftBlink[] = [];

  constructor(opts: IndicatorPlayerOptions) {
    this.backend = opts.backend;
    this.timers = opts.timers ?? systemTimers;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? silentLog;
    this.onEvent = opts.onEvent;
    this.schedules = opts.schedules ?? scheduleFor;
    if (opts.base !== undefined) this.setBase(opts.base);
  }

  get current(): Pattern | null {
    return this.currentPattern;
  }

  get base(): Pattern {
    return this.basePattern;
  }

  /** When the last showing of `pattern` first wrote an output (injected clock), or undefined. */
  firstWriteAt(pattern: Pattern): number | undefined {
    return this.firstWrites.get(pattern);
  }

  /** Opens the backend (all outputs off). Shows nothing until show() is called. */
  async open(): Promise<void> {
    await this.backend.open();
    for (const o of this.backend.outputs) this.states.set(o, 'off');
    this.opened = true;
  }

  show(pattern: Pattern): void {
    if (!this.opened) {
      this.log.warn({ pattern }, 'indicator.show: called before open(), ignored');
      return;
    }
    if (pattern === this.currentPattern && !isTransient(pattern)) return;
    this.start(pattern);
  }

  setBase(pattern: Pattern): void {
    if (isTransient(pattern)) {
      this.log.warn({ pattern }, 'indicator.setBase: a transient pattern cannot be the base, ignored');
      return;
    }
    const showingOldBase = this.opened && this.currentPattern === this.basePattern;
    this.basePattern = pattern;
    if (showingOldBase) this.show(pattern);
  }

  async close(): Promise<void> {
    this.cancel();
    if (this.opened) {
      for (const o of this.backend.outputs) this.write(o, false);
      this.opened = false;
      this.currentPattern = null;
      await this.backend.close();
    }
  }

  private cancel(): void {
    this.generation++;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  private start(pattern: Pattern): void {
    this.cancel();
    const s = resolveSchedule(this.schedules(pattern), this.backend.outputs);
    this.schedule = s;
    this.currentPattern = pattern;
    this.startedAt = this.now();
    this.firstPending = true;
    this.backend.begin?.(pattern, s.summary);
    this.log.debug({ pattern }, 'indicator pattern');

    const steps = [...s.steps].sort((a, b) => a.at - b.at);
    const initial = new Map<Output, { on: boolean; tone?: Tone }>();
    for (const o of this.backend.outputs) initial.set(o, { on: false });
    for (const r of s.steady) initial.set(r.output, { on: true });
    while (steps[0] !== undefined && steps[0].at <= 0) {
      const st = steps.shift()!;
      initial.set(st.output, st.tone ? { on: st.on, tone: st.tone } : { on: st.on });
    }
    this.pendingSteps = steps;
    this.softBlinks = [];
    const blinking = new Set(s.blinks.map((b) => b.output));
    // Switch off first, then on: the off writes of the old pattern never follow the new pattern's lights.
    for (const [o, want] of initial) if (!want.on && !blinking.has(o)) this.write(o, false);
    for (const b of s.blinks) {
      if (this.backend.blink?.(b.output, b.onMs, b.offMs)) {
        this.record(b.output, 'kernel-blink', { onMs: b.onMs, offMs: b.offMs });
      } else {
        if (this.states.get(b.output) === 'kernel-blink') this.write(b.output, false);
        this.write(b.output, true);
        this.softBlinks.push({ output: b.output, onMs: b.onMs, offMs: b.offMs, nextAt: b.onMs, nextOn: false });
      }
    }
    for (const [o, want] of initial) if (want.on && !blinking.has(o)) this.write(o, true, want.tone);
    this.arm();
  }

  private arm(): void {
    const s = this.schedule;
    if (s === null) return;
    let next = Number.POSITIVE_INFINITY;
    if (this.pendingSteps[0] !== undefined) next = this.pendingSteps[0].at;
    for (const b of this.softBlinks) next = Math.min(next, b.nextAt);
    if (s.durationMs !== null) next = Math.min(next, s.durationMs);
    if (next === Number.POSITIVE_INFINITY) return;
    const gen = this.generation;
    const delay = Math.max(0, this.startedAt + next - this.now());
    this.timer = this.timers.setTimeout(() => {
      if (gen !== this.generation) return;
      this.timer = null;
      this.tick();
    }, delay);
  }

  private tick(): void {
    const s = this.schedule;
    if (s === null) return;
    const elapsed = this.now() - this.startedAt;
    while (this.pendingSteps[0] !== undefined && this.pendingSteps[0].at <= elapsed) {
      const st = this.pendingSteps.shift()!;
      this.write(st.output, st.on, st.tone);
    }
    for (const b of this.softBlinks) {
      while (b.nextAt <= elapsed) {
        this.write(b.output, b.nextOn);
        b.nextAt += b.nextOn ? b.onMs : b.offMs;
        b.nextOn = !b.nextOn;
      }
    }
    if (s.durationMs !== null && elapsed >= s.durationMs) {
      this.start(this.basePattern);
      return;
    }
    this.arm();
  }

  private write(output: Output, on: boolean, tone?: Tone): void {
    const want: OutputState = on ? 'on' : 'off';
    if (this.states.get(output) === want) return;
    try {
      this.backend.set(output, on, tone);
    } catch (e) {
      this.log.error({ output, on, err: e }, 'indicator.set: backend threw');
    }
    this.record(output, want, undefined);
  }

  private record(output: Output, state: OutputState, blink: { onMs: number; offMs: number } | undefined): void {
    this.states.set(output, state);
    const t = this.now();
    const first = this.firstPending;
    const pattern = this.currentPattern;
    if (pattern === null) return;
    if (first) {
      this.firstPending = false;
      this.firstWrites.set(pattern, t);
    }
    const on = state !== 'off';
    this.onEvent?.(blink ? { t, pattern, output, on, blink, first } : { t, pattern, output, on, first });
  }
}
