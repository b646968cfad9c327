import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createWatchdog, type WatchdogSupervisor } from '../../device/app/watchdog.ts';
import type { Log } from '../../drivers/common/log.ts';

interface Line {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function recordingLog(lines: Line[]): Log {
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  const log: Log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => log };
  return log;
}

/**
 * Fake timers drive the intervals; `skew` moves the clock WITHOUT firing timers, which is exactly
 * what a blocked event loop looks like to the code: time passed, no callback ran.
 */
function setup(opts: { pingIntervalMs?: number; maxLagMs?: number; probeMs?: number } = {}) {
  let skew = 0;
  const sent: string[] = [];
  const lines: Line[] = [];
  const wd: WatchdogSupervisor = createWatchdog({
    notifier: { watchdog: () => sent.push('WATCHDOG=1'), status: (t) => sent.push(`STATUS=${t}`) },
    pingIntervalMs: opts.pingIntervalMs ?? 5_000,
    maxLagMs: opts.maxLagMs ?? 1_000,
    probeMs: opts.probeMs ?? 250,
    now: () => Date.now() + skew,
    timers: { setInterval: (fn, ms) => setInterval(fn, ms), clearInterval: (h) => clearInterval(h as number) },
    log: recordingLog(lines),
  });
  const pingCount = () => sent.filter((m) => m === 'WATCHDOG=1').length;
  const blockLoop = (ms: number) => {
    skew += ms;
  };
  return { wd, sent, lines, pingCount, blockLoop };
}

describe('watchdog supervisor', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('pings once at start and then every pingIntervalMs while idle (no scans needed)', () => {
    const { wd, pingCount } = setup();
    wd.start();
    expect(pingCount()).toBe(1);
    vi.advanceTimersByTime(5_000);
    expect(pingCount()).toBe(2);
    vi.advanceTimersByTime(60 * 60_000); // an hour with no customers
    expect(pingCount()).toBe(2 + 720);
    expect(wd.pings).toBe(722);
  });

  it('keeps pinging while every registered heartbeat beats within its bound', () => {
    const { wd, pingCount, lines } = setup();
    const serial = wd.register('scanner', 3_000);
    const nfc = wd.register('nfc', 10_000);
    wd.start();
    for (let i = 0; i < 20; i++) {
      vi.advanceTimersByTime(1_000);
      serial.beat();
      if (i % 5 === 0) nfc.beat();
    }
    expect(pingCount()).toBe(1 + 4);
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('stops pinging when a heartbeat goes silent and logs WATCHDOG_HEARTBEAT exactly once', () => {
    const { wd, pingCount, lines, sent } = setup();
    const serial = wd.register('scanner', 3_000);
    wd.start();
    serial.beat();
    vi.advanceTimersByTime(5_000); // last beat at t=0, ping at t=5000: silent 5000 > 3000
    expect(pingCount()).toBe(1);
    vi.advanceTimersByTime(30_000);
    expect(pingCount()).toBe(1);
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.obj).toMatchObject({ code: 'WATCHDOG_HEARTBEAT', name: 'scanner', maxSilenceMs: 3_000 });
    expect(errors[0]?.msg).toContain('"scanner" silent for 5000 ms');
    expect(sent).toContain('STATUS=wedged: heartbeat "scanner" silent for 5000 ms (max 3000 ms)');
  });

  it('stops pinging when the event loop lags beyond maxLagMs and logs WATCHDOG_LAG once', () => {
    const { wd, pingCount, lines, blockLoop } = setup();
    wd.start();
    vi.advanceTimersByTime(5_000);
    expect(pingCount()).toBe(2);
    // The loop keeps getting stuck for 2 s at a time but runs timers in between (a partial wedge).
    for (let i = 0; i < 10; i++) {
      blockLoop(2_000);
      vi.advanceTimersByTime(1_000);
    }
    expect(pingCount()).toBe(2);
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.obj).toMatchObject({ code: 'WATCHDOG_LAG', maxLagMs: 1_000 });
    expect(errors[0]?.obj['lagMs']).toBeGreaterThanOrEqual(1_750);
  });

  it('refuses the ping even when the ping timer fires before the overdue probe', () => {
    const { wd, pingCount, blockLoop, lines } = setup({ pingIntervalMs: 5_000, probeMs: 300 });
    wd.start();
    vi.advanceTimersByTime(4_999); // last probe ran at 4800, the next is due at 5100
    blockLoop(3_000); // blocked right before the ping is due
    vi.advanceTimersByTime(1); // only the ping (due 5000) fires; the probe has not seen the block yet
    expect(pingCount()).toBe(1);
    expect(lines.map((l) => l.obj['code'])).toEqual(['WATCHDOG_LAG']);
    expect(lines[0]?.obj['lagMs']).toBe(2_900);
  });

  it('tolerates lag up to the bound', () => {
    const { wd, pingCount, blockLoop } = setup({ maxLagMs: 1_000 });
    wd.start();
    for (let i = 0; i < 10; i++) {
      blockLoop(900);
      vi.advanceTimersByTime(2_500);
    }
    expect(pingCount()).toBe(1 + 5);
  });

  it('resumes pinging after recovery and logs WATCHDOG_RECOVERED once', () => {
    const { wd, pingCount, lines, sent } = setup();
    const serial = wd.register('scanner', 3_000);
    wd.start();
    vi.advanceTimersByTime(10_000);
    expect(pingCount()).toBe(1);
    vi.advanceTimersByTime(4_000);
    serial.beat(); // the driver came back at t=14000
    vi.advanceTimersByTime(1_000);
    expect(pingCount()).toBe(2);
    expect(lines.filter((l) => l.obj['code'] === 'WATCHDOG_RECOVERED')).toHaveLength(1);
    expect(sent.at(-2)).toBe('STATUS=running');
  });

  it('unregister() stops requiring a heartbeat', () => {
    const { wd, pingCount } = setup();
    const nfc = wd.register('nfc', 1_000);
    wd.start();
    nfc.unregister();
    vi.advanceTimersByTime(20_000);
    expect(pingCount()).toBe(1 + 4);
  });

  it('stop() clears both intervals', () => {
    const { wd, pingCount } = setup();
    wd.start();
    wd.start(); // idempotent: no second set of timers
    expect(pingCount()).toBe(1);
    expect(vi.getTimerCount()).toBe(2);
    wd.stop();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(pingCount()).toBe(1);
  });

  it('rejects bad configuration with a message naming the value', () => {
    expect(() => setup({ pingIntervalMs: 0 })).toThrow('createWatchdog: expected pingIntervalMs positive number, got 0');
    const { wd } = setup();
    wd.register('scanner', 1_000);
    expect(() => wd.register('scanner', 1_000)).toThrow('already registered');
    expect(() => wd.register('modem', Number.NaN)).toThrow('watchdog.register: expected maxSilenceMs positive number');
  });
});
