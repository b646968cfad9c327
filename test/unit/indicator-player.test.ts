import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeIndicatorBackend } from '../../drivers/indicator/fake.ts';
import { IndicatorPlayer, type PlayerEvent } from '../../drivers/indicator/player.ts';
import type { Output } from '../../drivers/indicator/types.ts';

const T0 = 1_700_000_000_000;

function setup(opts: { kernelBlink?: boolean; outputs?: Output[] } = {}) {
  const backend = new FakeIndicatorBackend(opts);
  const events: PlayerEvent[] = [];
  const player = new IndicatorPlayer({ backend, onEvent: (e) => events.push(e) });
  return { backend, player, events };
}

/** Writes of one output as [ms since start, on]. */
const times = (backend: FakeIndicatorBackend, o: Output, since: number) =>
  backend.timeline(o, since).map((e) => [e.at, e.on] as const);

describe('IndicatorPlayer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('plays accepted with exact on/off times, then returns to ready at 1500 ms', async () => {
    const { backend, player } = setup();
    await player.open();
    player.show('ready');
    backend.reset();
    const start = Date.now();
    player.show('accepted');
    vi.advanceTimersByTime(5000);
    // green was already on from ready: no write, no flicker.
    expect(times(backend, 'green', start)).toEqual([]);
    expect(times(backend, 'buzzer', start)).toEqual([
      [0, true],
      [80, false],
      [160, true],
      [240, false],
    ]);
    expect(times(backend, 'red', start)).toEqual([]);
    expect(player.current).toBe('ready');
    expect(backend.begun.map((b) => b.pattern)).toEqual(['accepted', 'ready']);
    expect(backend.begun[0]!.summary).toBe('green ■ beep-beep');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('declined-customer: red on and one 800 ms beep, green off, back to ready (green on) at 2500 ms', async () => {
    const { backend, player } = setup();
    await player.open();
    player.show('ready');
    backend.reset();
    const start = Date.now();
    player.show('declined-customer');
    vi.advanceTimersByTime(2499);
    expect(player.current).toBe('declined-customer');
    vi.advanceTimersByTime(1);
    expect(times(backend, 'red', start)).toEqual([
      [0, true],
      [2500, false],
    ]);
    expect(times(backend, 'green', start)).toEqual([
      [0, false],
      [2500, true],
    ]);
    expect(times(backend, 'buzzer', start)).toEqual([
      [0, true],
      [800, false],
    ]);
    expect(player.current).toBe('ready');
  });

  it('switches the old lights off before the new ones on', async () => {
    const { backend, player } = setup();
    await player.open();
    player.show('ready');
    backend.reset();
    player.show('declined-customer');
    expect(backend.events.map((e) => `${e.output}:${e.on}`)).toEqual(['green:false', 'red:true', 'buzzer:true']);
  });

  it('a new show() cancels the running schedule cleanly (no stale beeps, no early return)', async () => {
    const { backend, player } = setup();
    await player.open();
    player.show('ready');
    player.show('accepted');
    vi.advanceTimersByTime(100); // mid-gap between the two beeps
    backend.reset();
    const start = Date.now();
    player.show('declined-retry');
    expect(vi.getTimerCount()).toBe(1); // the old schedule's timer is gone
    vi.advanceTimersByTime(1999);
    expect(player.current).toBe('declined-retry');
    // accepted's second beep at 160 ms and its return to ready at 1500 ms never happen.
    expect(times(backend, 'buzzer', start)).toEqual([
      [0, true],
      [300, false],
      [500, true],
      [800, false],
    ]);
    expect(backend.events.every((e) => e.tone === undefined || e.tone === 'low')).toBe(true);
    // red blinks 250/250 in software, green goes off at 0.
    expect(times(backend, 'red', start).slice(0, 5)).toEqual([
      [0, true],
      [250, false],
      [500, true],
      [750, false],
      [1000, true],
    ]);
    expect(times(backend, 'green', start)).toEqual([[0, false]]);
    vi.advanceTimersByTime(1);
    expect(player.current).toBe('ready');
    expect(backend.state('red')).toBe('off');
    expect(backend.state('green')).toBe('on');
  });

  it('interrupting a beep switches the buzzer off at once', async () => {
    const { backend, player } = setup();
    await player.open();
    player.show('declined-customer');
    vi.advanceTimersByTime(100);
    expect(backend.state('buzzer')).toBe('on');
    player.show('busy');
    expect(backend.state('buzzer')).toBe('off');
    vi.advanceTimersByTime(10_000);
    expect(backend.state('buzzer')).toBe('off');
    expect(player.current).toBe('busy');
  });

  it('returns to the offline-backlog base: green steady, amber slow blink 1000/2000 in software', async () => {
    const { backend, player } = setup();
    await player.open();
    player.setBase('offline-backlog');
    expect(player.current).toBe(null); // setBase does not light anything before the first show
    player.show('accepted');
    vi.advanceTimersByTime(1500);
    expect(player.current).toBe('offline-backlog');
    const start = Date.now();
    backend.reset();
    vi.advanceTimersByTime(6000);
    expect(times(backend, 'amber', start)).toEqual([
      [1000, false],
      [3000, true],
      [4000, false],
      [6000, true],
    ]);
    expect(backend.state('green')).toBe('on');
  });

  it('offloads base blinks to the kernel when the backend can, without any timer', async () => {
    const { backend, player } = setup({ kernelBlink: true, outputs: ['green', 'red', 'buzzer'] });
    await player.open();
    player.setBase('offline-backlog');
    player.show('offline-backlog');
    // no amber LED: the slow blink falls back to red.
    expect(backend.events).toEqual([
      { t: T0, output: 'red', on: true, blink: { onMs: 1000, offMs: 2000 } },
      { t: T0, output: 'green', on: true },
    ]);
    expect(backend.state('red')).toBe('blink');
    expect(vi.getTimerCount()).toBe(0);
    player.show('accepted');
    expect(backend.state('red')).toBe('off');
    vi.advanceTimersByTime(1500);
    expect(backend.state('red')).toBe('blink');
  });

  it('setBase while showing the old base switches at once; while transient, at the end', async () => {
    const { player, backend } = setup();
    await player.open();
    player.show('ready');
    player.setBase('offline-backlog');
    expect(player.current).toBe('offline-backlog');
    player.show('declined-fault');
    player.setBase('ready');
    expect(player.current).toBe('declined-fault');
    expect(backend.state('amber')).toBe('on');
    vi.advanceTimersByTime(3000);
    expect(player.current).toBe('ready');
    expect(backend.state('amber')).toBe('off');
  });

  it('refuses a transient base and ignores show() before open()', async () => {
    const { player, backend } = setup();
    player.show('accepted');
    expect(backend.events).toEqual([]);
    player.setBase('accepted');
    expect(player.base).toBe('ready');
    await player.open();
    player.show('busy');
    expect(player.current).toBe('busy');
  });

  it('re-showing the same base pattern keeps its blink phase; re-showing accepted beeps again', async () => {
    const { player, backend } = setup();
    await player.open();
    player.show('busy');
    vi.advanceTimersByTime(50);
    backend.reset();
    player.show('busy');
    expect(backend.events).toEqual([]);
    vi.advanceTimersByTime(50);
    expect(backend.state('green')).toBe('off'); // toggled at 100 ms of the first showing
    player.show('accepted');
    vi.advanceTimersByTime(500);
    backend.reset();
    player.show('accepted');
    expect(backend.timeline('buzzer')).toHaveLength(1);
    expect(backend.state('buzzer')).toBe('on');
  });

  it('records the first output write of each showing, after whatever happened before show()', async () => {
    const { player, events } = setup();
    await player.open();
    player.show('ready');
    const fsyncDoneAt = Date.now();
    vi.advanceTimersByTime(7);
    player.show('accepted');
    const firstAccepted = events.find((e) => e.pattern === 'accepted' && e.first);
    expect(firstAccepted).toMatchObject({ output: 'buzzer', on: true, t: fsyncDoneAt + 7 });
    expect(player.firstWriteAt('accepted')).toBe(fsyncDoneAt + 7);
    expect(events.filter((e) => e.pattern === 'accepted' && e.first)).toHaveLength(1);
    expect(player.firstWriteAt('declined-fault')).toBeUndefined();
  });

  it('close() stops the schedule, switches everything off and closes the backend', async () => {
    const { player, backend } = setup();
    await player.open();
    player.show('declined-retry');
    vi.advanceTimersByTime(100);
    await player.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(backend.closed).toBe(true);
    for (const o of backend.outputs) expect(backend.state(o)).toBe('off');
    const n = backend.events.length;
    vi.advanceTimersByTime(10_000);
    expect(backend.events).toHaveLength(n);
    expect(player.current).toBe(null);
  });

  it('keeps playing when the backend throws on a write', async () => {
    const backend = new FakeIndicatorBackend();
    const errors: object[] = [];
    const log = { debug() {}, info() {}, warn() {}, error: (o: object) => errors.push(o), child: () => log };
    backend.set = (o) => {
      if (o === 'buzzer') throw new Error('EIO');
    };
    const player = new IndicatorPlayer({ backend, log });
    await player.open();
    player.show('accepted');
    vi.advanceTimersByTime(1500);
    expect(player.current).toBe('ready');
    expect(errors.length).toBeGreaterThan(0);
  });
});
