import type { Output, Pattern, Tone } from './types.ts';

/**
 * What the lights and sounds mean, for the merchant's quick guide:
 *
 * | Pattern           | Lights                          | Sound                         | Meaning                                                       |
 * |-------------------|---------------------------------|-------------------------------|---------------------------------------------------------------|
 * | ready             | green steady                    | none                          | Show a payment code.                                          |
 * | busy              | green blinking fast             | none                          | Reading / checking a code, please wait.                       |
 * | accepted          | green steady, 1.5 s             | two quick chirps  (beep-beep) | PAID. The payment is stored on the box.                       |
 * | declined-customer | red steady, 2.5 s               | one long tone     (beeeeep)   | NOT paid: the customer must fix it (wrong shop, expired, bad code). |
 * | declined-retry    | red blinking, 2 s               | two slow low tones (boop boop)| NOT paid: show the code again (too old, too fast, no charge set). |
 * | declined-fault    | red + amber steady, 3 s         | three tones       (beep x3)   | NOT paid: the box has a problem (storage). Call support.      |
 * | offline-backlog   | green steady + amber slow blink | none                          | Ready. Payments wait to be sent (no network); nothing is lost. |
 * | fault             | red blinking fast               | none                          | The box cannot take payments. Restart or call support.        |
 *
 * Without an amber LED, offline-backlog blinks red slowly and declined-fault shows red only (three tones still tell).
 * By sound alone: accepted = 2 x 80 ms, customer = 1 x 800 ms, retry = 2 x 300 ms (low), fault = 3 x 150 ms.
 */

/** An output, and what to use instead when the backend lacks it (none: drop it). */
export interface OutputRef {
  readonly output: Output;
  readonly fallback?: Output;
}

/** A one-shot switch at `at` ms after the pattern starts. */
export interface Step extends OutputRef {
  readonly at: number;
  readonly on: boolean;
  readonly tone?: Tone;
}

/** A loop from the pattern start: on for onMs, off for offMs, until the next pattern. Offloadable to the kernel. */
export interface Blink extends OutputRef {
  readonly onMs: number;
  readonly offMs: number;
}

/**
 * A pure schedule. It loops when it has blinks. A transient schedule (`durationMs` set) returns to the
 * base pattern (ready or offline-backlog) after durationMs; a base schedule stays until the next show().
 * Every output not named is switched off when the pattern starts.
 */
export interface Schedule {
  readonly pattern: Pattern;
  readonly steady: readonly OutputRef[];
  readonly blinks: readonly Blink[];
  readonly steps: readonly Step[];
  readonly durationMs: number | null;
  readonly returnsTo: 'base' | null;
  /** One compact line for people: `green ■ beep-beep`. */
  readonly summary: string;
}

const SHORT_BEEP_MS = 80;
const LONG_BEEP_MS = 800;
const RETRY_BEEP_MS = 300;
const FAULT_BEEP_MS = 150;

/** `count` buzzer beeps of `lengthMs` separated by `gapMs`, starting at 0. */
export function beeps(count: number, lengthMs: number, gapMs: number, tone?: Tone): Step[] {
  const steps: Step[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * (lengthMs + gapMs);
    steps.push(tone ? { at, output: 'buzzer', on: true, tone } : { at, output: 'buzzer', on: true });
    steps.push({ at: at + lengthMs, output: 'buzzer', on: false });
  }
  return steps;
}

function schedule(s: Omit<Schedule, 'summary' | 'returnsTo'>, sound: string): Schedule {
  const lights = [
    ...s.steady.map((r) => `${r.output} ■`),
    ...s.blinks.map((b) => `${b.output} ◌ ${b.onMs}/${b.offMs}`),
  ];
  return {
    ...s,
    returnsTo: s.durationMs === null ? null : 'base',
    summary: sound ? `${lights.join(' ')} ${sound}` : lights.join(' '),
  };
}

export const SCHEDULES: Readonly<Record<Pattern, Schedule>> = {
  ready: schedule({ pattern: 'ready', steady: [{ output: 'green' }], blinks: [], steps: [], durationMs: null }, ''),
  busy: schedule(
    { pattern: 'busy', steady: [], blinks: [{ output: 'green', onMs: 100, offMs: 100 }], steps: [], durationMs: null },
    '',
  ),
  accepted: schedule(
    {
      pattern: 'accepted',
      steady: [{ output: 'green' }],
      blinks: [],
      steps: beeps(2, SHORT_BEEP_MS, SHORT_BEEP_MS, 'high'),
      durationMs: 1500,
    },
    'beep-beep',
  ),
  'declined-customer': schedule(
    {
      pattern: 'declined-customer',
      steady: [{ output: 'red' }],
      blinks: [],
      steps: beeps(1, LONG_BEEP_MS, 0, 'high'),
      durationMs: 2500,
    },
    'beeeeep',
  ),
  'declined-retry': schedule(
    {
      pattern: 'declined-retry',
      steady: [],
      blinks: [{ output: 'red', onMs: 250, offMs: 250 }],
      steps: beeps(2, RETRY_BEEP_MS, 200, 'low'),
      durationMs: 2000,
    },
    'boop boop',
  ),
  'declined-fault': schedule(
    {
      pattern: 'declined-fault',
      steady: [{ output: 'red' }, { output: 'amber' }],
      blinks: [],
      steps: beeps(3, FAULT_BEEP_MS, 100, 'high'),
      durationMs: 3000,
    },
    'beep-beep-beep',
  ),
  'offline-backlog': schedule(
    {
      pattern: 'offline-backlog',
      steady: [{ output: 'green' }],
      blinks: [{ output: 'amber', fallback: 'red', onMs: 1000, offMs: 2000 }],
      steps: [],
      durationMs: null,
    },
    '',
  ),
  fault: schedule(
    { pattern: 'fault', steady: [], blinks: [{ output: 'red', onMs: 100, offMs: 100 }], steps: [], durationMs: null },
    '',
  ),
};

export function scheduleFor(pattern: Pattern): Schedule {
  return SCHEDULES[pattern];
}

/** Transient patterns (accepted, declined-*) end by returning to the base pattern. */
export function isTransient(pattern: Pattern): boolean {
  return SCHEDULES[pattern].durationMs !== null;
}

function resolveRef<T extends OutputRef>(ref: T, available: ReadonlySet<Output>): T | null {
  if (available.has(ref.output)) return ref;
  if (ref.fallback === undefined || !available.has(ref.fallback)) return null;
  const { fallback, ...rest } = ref;
  return { ...rest, output: fallback } as unknown as T;
}

/**
 * Maps a schedule onto the outputs a backend has: missing outputs use their fallback or are dropped;
 * an output already steady-on is not also blinked by a fallback.
 */
export function resolveSchedule(s: Schedule, available: readonly Output[]): Schedule {
  const set = new Set(available);
  const pick = <T extends OutputRef>(refs: readonly T[]) =>
    refs.map((r) => resolveRef(r, set)).filter((r): r is T => r !== null);
  const steady = pick(s.steady).filter((r, i, all) => all.findIndex((o) => o.output === r.output) === i);
  const steadyOutputs = new Set(steady.map((r) => r.output));
  const blinks = pick(s.blinks).filter((b) => !steadyOutputs.has(b.output));
  return { ...s, steady, blinks, steps: pick(s.steps) };
}

/** A flat, sorted timeline of one schedule up to `horizonMs` (blinks expanded), for tests and printing. */
export function expandSchedule(s: Schedule, horizonMs: number): Step[] {
  const out: Step[] = s.steady.map((r) => ({ at: 0, output: r.output, on: true }));
  for (const b of s.blinks) {
    for (let at = 0; at < horizonMs; at += b.onMs + b.offMs) {
      out.push({ at, output: b.output, on: true });
      if (at + b.onMs < horizonMs) out.push({ at: at + b.onMs, output: b.output, on: false });
    }
  }
  for (const st of s.steps) if (st.at < horizonMs) out.push(st);
  return out.sort((a, b) => a.at - b.at);
}

/** Total buzzer-on time and beep count: what a listener hears. */
export function soundSignature(s: Schedule): { count: number; lengthsMs: number[] } {
  const lengthsMs: number[] = [];
  let onAt: number | null = null;
  for (const st of [...s.steps].filter((x) => x.output === 'buzzer').sort((a, b) => a.at - b.at)) {
    if (st.on && onAt === null) onAt = st.at;
    else if (!st.on && onAt !== null) {
      lengthsMs.push(st.at - onAt);
      onAt = null;
    }
  }
  return { count: lengthsMs.length, lengthsMs };
}
