import { describe, expect, it, vi } from 'vitest';
import { BoxError } from '../../device/core/errors.ts';
import type { Timers } from '../../drivers/scanner/backoff.ts';
import { backoffDelayMs } from '../../drivers/scanner/backoff.ts';
import { SerialLineScanner } from '../../drivers/scanner/serial-line.ts';
import type { ScannerStatus } from '../../drivers/scanner/types.ts';
import { UnpluggableMockBinding } from '../contract/scanner-mock-binding.ts';

/** Fake timers injected through the driver's constructor: the test decides when they fire. */
class ManualTimers implements Timers {
  pending: Array<{ fn: () => void; ms: number; id: number }> = [];
  #next = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.pending.push({ fn, ms, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending = this.pending.filter((t) => t.id !== handle);
  }
  fireNext(): number {
    const t = this.pending.shift();
    if (!t) throw new Error('no timer pending');
    t.fn();
    return t.ms;
  }
}

const until = (cond: () => boolean) => vi.waitFor(() => expect(cond()).toBe(true), { timeout: 3000, interval: 2 });

let seq = 0;
function setup(opts: { maxLineBytes?: number; presenceCheckMs?: number } = {}) {
  const id = ++seq;
  const link = `/dev/qrscanner-${id}`;
  const acm0 = `/dev/ttyACM0-${id}`;
  const binding = new UnpluggableMockBinding();
  binding.plug(acm0);
  binding.links.set(link, acm0);
  const timers = new ManualTimers();
  const warnings: object[] = [];
  const log = {
    debug() {},
    info() {},
    warn(obj: object) {
      warnings.push(obj);
    },
    error() {},
    child() {
      return log;
    },
  };
  const scanner = new SerialLineScanner(
    { path: link, baudRate: 115200, delimiter: '\r\n', maxLineBytes: opts.maxLineBytes ?? 4096 },
    {
      binding,
      timers,
      random: () => 0.5,
      resolvePath: binding.resolvePath,
      deviceExists: binding.isPresent,
      presenceCheckMs: opts.presenceCheckMs ?? 0,
      log,
    },
  );
  const lines: string[] = [];
  const statuses: ScannerStatus[] = [];
  scanner.onLine((l) => lines.push(l));
  scanner.onStatus((s) => statuses.push(s));
  return { id, link, acm0, binding, timers, scanner, lines, statuses, warnings };
}

describe('SerialLineScanner config errors', () => {
  it.each([
    [{ path: '/dev/x', baudRate: 'fast' }, 'scanner.open: expected baudRate number, got "fast"'],
    [{ path: '', baudRate: 9600 }, 'scanner.open: expected path non-empty string, got ""'],
    [{ path: '/dev/x', delimiter: ';' }, 'scanner.open: expected delimiter'],
    [{ path: '/dev/x', maxLineBytes: 0 }, 'scanner.open: expected maxLineBytes integer 1..1048576, got number 0'],
  ])('open() rejects %j', async (cfg, msg) => {
    const s = new SerialLineScanner(cfg as never, { binding: new UnpluggableMockBinding() });
    const err = await s.open().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BoxError);
    expect((err as BoxError).code).toBe('SCANNER_CONFIG');
    expect((err as BoxError).message).toContain(msg);
  });

  it('open() throws a retryable BoxError when the device is absent at first open', async () => {
    const s = new SerialLineScanner({ path: '/dev/absent-scanner' }, { binding: new UnpluggableMockBinding() });
    const err = (await s.open().catch((e: unknown) => e)) as BoxError;
    expect(err.code).toBe('SCANNER_UNAVAILABLE');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('/dev/absent-scanner');
  });
});

describe('SerialLineScanner on binding-mock', () => {
  it('drops a 1 MB flood without delimiter, counts it once, logs rate-limited, then reads the next line', async () => {
    const t = setup();
    await t.scanner.open();
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    for (let i = 0; i < 16; i++) t.binding.feed(t.acm0, chunk);
    t.binding.feed(t.acm0, '\r\nHC1:NEXT\r\n');
    await until(() => t.lines.length === 1);
    expect(t.lines).toEqual(['HC1:NEXT']);
    expect(t.scanner.stats()).toMatchObject({ lines: 1, droppedOverflow: 1 });
    expect(t.warnings).toEqual([expect.objectContaining({ reason: 'overflow', maxLineBytes: 4096 })]);
    await t.scanner.close();
  });

  it('reconnects with exponential backoff after unplug, re-resolving the symlink to a new tty', async () => {
    const t = setup();
    await t.scanner.open();
    t.binding.feed(t.acm0, 'before\r\n');
    await until(() => t.lines.length === 1);

    t.binding.unplug(t.acm0);
    await until(() => t.statuses.at(-1)?.state === 'reconnecting');
    expect(t.statuses.at(-1)).toMatchObject({ state: 'reconnecting', attempt: 1 });

    // Still unplugged: each failed attempt schedules the next with a doubled delay.
    const delays = [t.timers.fireNext()];
    await until(() => t.statuses.at(-1)?.attempt === 2);
    delays.push(t.timers.fireNext());
    await until(() => t.statuses.at(-1)?.attempt === 3);
    expect(delays).toEqual([backoffDelayMs(1, { initialMs: 250, maxMs: 10_000 }, () => 0.5), 375]);
    expect(t.timers.pending[0]?.ms).toBe(750);

    // The device comes back as a different ttyACM; udev moves the symlink.
    const acm1 = `/dev/ttyACM1-${t.id}`;
    t.binding.plug(acm1);
    t.binding.links.set(t.link, acm1);
    t.timers.fireNext();
    await until(() => t.statuses.at(-1)?.state === 'connected');
    expect(t.statuses.at(-1)?.detail).toBe(acm1);
    expect(t.binding.opens.at(-1)).toBe(acm1);

    t.binding.feed(acm1, 'after\r\n');
    await until(() => t.lines.length === 2);
    expect(t.lines).toEqual(['before', 'after']);
    expect(t.scanner.stats().reconnects).toBe(1);
    await t.scanner.close();
  });

  it('discards a partial line cut by the unplug', async () => {
    const t = setup();
    await t.scanner.open();
    t.binding.feed(t.acm0, 'first\r\nHALF-A-CO'); // same chunk: once 'first' arrives, the half line is held
    await until(() => t.lines.length === 1);
    t.binding.unplug(t.acm0);
    await until(() => t.statuses.at(-1)?.state === 'reconnecting');
    t.binding.plug(t.acm0);
    t.timers.fireNext();
    await until(() => t.statuses.at(-1)?.state === 'connected');
    t.binding.feed(t.acm0, 'WHOLE\r\n');
    await until(() => t.lines.length === 2);
    expect(t.lines).toEqual(['first', 'WHOLE']);
    await t.scanner.close();
  });

  it('notices a silent unplug (read never fails) through the presence check, then reconnects', async () => {
    const t = setup({ presenceCheckMs: 1000 });
    await t.scanner.open();
    expect(t.timers.pending.map((p) => p.ms)).toEqual([1000]);
    t.timers.fireNext(); // device still there: the check re-arms
    await until(() => t.timers.pending.length === 1);
    expect(t.statuses.at(-1)?.state).toBe('connected');

    t.binding.unplug(t.acm0, { silent: true });
    t.timers.fireNext();
    await until(() => t.statuses.at(-1)?.state === 'reconnecting');
    expect(t.statuses.at(-1)?.detail).toContain('vanished');

    t.binding.plug(t.acm0);
    t.timers.fireNext(); // the reconnect attempt
    await until(() => t.statuses.at(-1)?.state === 'connected');
    t.binding.feed(t.acm0, 'back\r\n');
    await until(() => t.lines.length === 1);
    await t.scanner.close();
    expect(t.timers.pending).toHaveLength(0);
  });

  it('close() during backoff cancels the retry and reports disconnected', async () => {
    const t = setup();
    await t.scanner.open();
    t.binding.unplug(t.acm0);
    await until(() => t.statuses.at(-1)?.state === 'reconnecting');
    await t.scanner.close();
    expect(t.timers.pending).toHaveLength(0);
    expect(t.statuses.at(-1)?.state).toBe('disconnected');
  });

  it('open() twice throws SCANNER_STATE; after close() it opens again', async () => {
    const t = setup();
    await t.scanner.open();
    await expect(t.scanner.open()).rejects.toMatchObject({ code: 'SCANNER_STATE' });
    await t.scanner.close();
    await t.scanner.open();
    t.binding.feed(t.acm0, 'again\r\n');
    await until(() => t.lines.length === 1);
    await t.scanner.close();
  });
});

describe('backoffDelayMs', () => {
  it('doubles from 250 ms up to 10 s with 50-100 % jitter', () => {
    const p = { initialMs: 250, maxMs: 10_000 };
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffDelayMs(a, p, () => 0.999999))).toEqual([
      250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000,
    ]);
    expect(backoffDelayMs(1, p, () => 0)).toBe(125);
  });
});
