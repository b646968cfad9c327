import { describe, expect, it } from 'vitest';
import {
  expandSchedule,
  isTransient,
  resolveSchedule,
  SCHEDULES,
  scheduleFor,
  soundSignature,
} from '../../drivers/indicator/patterns.ts';
import { ALL_PATTERNS, type Pattern } from '../../drivers/indicator/types.ts';

describe('indicator pattern schedules', () => {
  it('has one schedule per pattern, named after it', () => {
    expect(Object.keys(SCHEDULES).sort()).toEqual([...ALL_PATTERNS].sort());
    for (const p of ALL_PATTERNS) expect(scheduleFor(p).pattern).toBe(p);
  });

  it('makes accepted and the declines transient, and the rest base patterns', () => {
    const transient = ALL_PATTERNS.filter(isTransient).sort();
    expect(transient).toEqual(['accepted', 'declined-customer', 'declined-fault', 'declined-retry']);
    for (const p of ALL_PATTERNS) expect(scheduleFor(p).returnsTo).toBe(isTransient(p) ? 'base' : null);
    expect(scheduleFor('accepted').durationMs).toBe(1500);
  });

  it('finishes every sound before the transient pattern ends, and leaves the buzzer off', () => {
    for (const p of ALL_PATTERNS) {
      const s = scheduleFor(p);
      const buzzer = s.steps.filter((x) => x.output === 'buzzer');
      if (buzzer.length > 0) expect(buzzer.at(-1)!.on, p).toBe(false);
      for (const st of s.steps) {
        expect(st.at, p).toBeGreaterThanOrEqual(0);
        if (s.durationMs !== null) expect(st.at, p).toBeLessThan(s.durationMs);
      }
    }
  });

  it('lets a listener tell every outcome apart by sound alone (count and lengths, pitch aside)', () => {
    const outcomes: Pattern[] = ['accepted', 'declined-customer', 'declined-retry', 'declined-fault'];
    const sounds = outcomes.map((p) => soundSignature(scheduleFor(p)));
    expect(sounds.map((s) => s.count)).toEqual([2, 1, 2, 3]);
    const keys = sounds.map((s) => s.lengthsMs.join(','));
    expect(new Set(keys).size).toBe(outcomes.length);
    // accepted and retry both beep twice: their beeps differ in length by far more than a person needs (>100 ms).
    expect(sounds[2]!.lengthsMs[0]! - sounds[0]!.lengthsMs[0]!).toBeGreaterThan(100);
    for (const p of ['ready', 'busy', 'offline-backlog', 'fault'] as const) expect(soundSignature(scheduleFor(p)).count).toBe(0);
  });

  it('lights green for accepted and red for every decline, never both', () => {
    expect(scheduleFor('accepted').steady.map((r) => r.output)).toEqual(['green']);
    for (const p of ['declined-customer', 'declined-retry', 'declined-fault'] as const) {
      const s = scheduleFor(p);
      const lit = [...s.steady, ...s.blinks].map((r) => r.output);
      expect(lit, p).toContain('red');
      expect(lit, p).not.toContain('green');
    }
  });

  it('falls back to red for the backlog blink and drops amber from declined-fault without an amber LED', () => {
    const backlog = resolveSchedule(scheduleFor('offline-backlog'), ['green', 'red', 'buzzer']);
    expect(backlog.blinks).toEqual([{ output: 'red', onMs: 1000, offMs: 2000 }]);
    const fault = resolveSchedule(scheduleFor('declined-fault'), ['green', 'red', 'buzzer']);
    expect(fault.steady.map((r) => r.output)).toEqual(['red']);
    expect(soundSignature(fault).count).toBe(3);
    const silent = resolveSchedule(scheduleFor('accepted'), ['green', 'red']);
    expect(silent.steps).toEqual([]);
  });

  it('expands a blink into an exact timeline', () => {
    expect(expandSchedule(scheduleFor('busy'), 400)).toEqual([
      { at: 0, output: 'green', on: true },
      { at: 100, output: 'green', on: false },
      { at: 200, output: 'green', on: true },
      { at: 300, output: 'green', on: false },
    ]);
  });
});
