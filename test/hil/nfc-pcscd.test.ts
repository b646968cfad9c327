/**
 * The pcscd hazard, on the real event loop: nfc-pcsc's `new NFC()` blocks the main thread forever when
 * pcscd is absent, so PcscNfcReader must probe first. These tests use real timers on purpose: a
 * blocked event loop only shows as a setInterval that stops ticking.
 *
 * (b) needs pcscd running (CI: `pcscd --auto-exit` or `pcscd -f &`, then NFC_PCSCD=1); no reader needed.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLog } from '../../drivers/common/log.ts';
import { type NfcPcscModule, PcscNfcReader } from '../../drivers/nfc/pcsc-reader.ts';
import { defaultPcscdSocketPath } from '../../drivers/nfc/pcscd-probe.ts';
import type { NfcStatus } from '../../drivers/nfc/types.ts';

function tempSocketPath(): string {
  return join(mkdtempSync(join(tmpdir(), 'nfc-hil-')), 'pcscd.comm');
}

/** Loads the real nfc-pcsc (proving it is installed) but counts constructions instead of blocking. */
function guardedModule(constructed: { count: number }) {
  return async (): Promise<NfcPcscModule> => {
    const specifier = 'nfc-pcsc';
    const real = (await import(specifier)) as { NFC?: unknown };
    expect(typeof real.NFC).toBe('function');
    class Guard {
      constructor() {
        constructed.count++;
      }
      on() {
        return this;
      }
      close() {}
    }
    return { NFC: Guard as unknown as NfcPcscModule['NFC'] };
  };
}

function waitForStatus(statuses: NfcStatus[], state: NfcStatus['state'], ms: number): Promise<NfcStatus> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      const hit = statuses.find((s) => s.state === state);
      if (hit) {
        clearInterval(poll);
        resolve(hit);
      } else if (Date.now() - started > ms) {
        clearInterval(poll);
        reject(new Error(`no '${state}' status within ${ms} ms; saw ${JSON.stringify(statuses)}`));
      }
    }, 5);
  });
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('PcscNfcReader without pcscd (real event loop)', () => {
  it("reports 'no-pcscd' quickly, never constructs NFC, and the event loop keeps ticking", async () => {
    const constructed = { count: 0 };
    const reader = new PcscNfcReader({
      log: silentLog,
      socketPath: tempSocketPath(),
      probeTimeoutMs: 200,
      backoff: { initialMs: 20, maxMs: 40 },
      loadModule: guardedModule(constructed),
    });
    cleanups.push(() => reader.close());
    const statuses: NfcStatus[] = [];
    reader.onStatus((s) => statuses.push(s));
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    cleanups.push(() => clearInterval(ticker));

    const t0 = performance.now();
    await reader.open();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(statuses).toEqual([{ state: 'no-pcscd', readers: [], code: 'NFC_NO_PCSCD' }]);

    // Let several re-probes happen; the interval must keep firing meanwhile.
    const ticksBefore = ticks;
    await new Promise((r) => setTimeout(r, 300));
    expect(ticks - ticksBefore).toBeGreaterThanOrEqual(15);
    expect(constructed.count).toBe(0);
    expect(statuses).toHaveLength(1);
  });

  it('a leftover socket path with nothing listening (pcscd crashed) is also no-pcscd', async () => {
    const path = tempSocketPath();
    writeFileSync(path, ''); // connect() on it fails with ECONNREFUSED, like a dead socket
    const constructed = { count: 0 };
    const reader = new PcscNfcReader({ log: silentLog, socketPath: path, loadModule: guardedModule(constructed) });
    cleanups.push(() => reader.close());
    const statuses: NfcStatus[] = [];
    reader.onStatus((s) => statuses.push(s));
    await reader.open();
    expect(statuses[0]).toMatchObject({ state: 'no-pcscd' });
    expect(constructed.count).toBe(0);
  });

  it('a pcscd socket appearing later is picked up by the periodic re-probe', async () => {
    const path = tempSocketPath();
    const constructed = { count: 0 };
    const reader = new PcscNfcReader({
      log: silentLog,
      socketPath: path,
      probeTimeoutMs: 200,
      backoff: { initialMs: 20, maxMs: 40 },
      loadModule: guardedModule(constructed),
    });
    cleanups.push(() => reader.close());
    const statuses: NfcStatus[] = [];
    reader.onStatus((s) => statuses.push(s));
    await reader.open();
    expect(statuses[0]).toMatchObject({ state: 'no-pcscd' });

    const server = createServer((c) => c.destroy()); // stands in for pcscd's listening socket
    await new Promise<void>((r) => server.listen(path, r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    await waitForStatus(statuses, 'no-reader', 2000);
    expect(constructed.count).toBe(1);
  });
});

describe('PcscNfcReader with pcscd running (NFC_PCSCD=1)', () => {
  it.skipIf(process.env['NFC_PCSCD'] !== '1')(
    "loads nfc-pcsc for real, reports 'no-reader' (no reader attached), closes cleanly [needs pcscd: NFC_PCSCD=1]",
    async () => {
      const reader = new PcscNfcReader({ log: silentLog, probeTimeoutMs: 1000 });
      const statuses: NfcStatus[] = [];
      reader.onStatus((s) => statuses.push(s));
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 10);
      cleanups.push(() => clearInterval(ticker));

      const t0 = performance.now();
      await reader.open();
      const status = await waitForStatus(statuses, 'no-reader', 5000).catch(() =>
        waitForStatus(statuses, 'ready', 100),
      );
      expect(performance.now() - t0).toBeLessThan(5000);
      expect(['no-reader', 'ready']).toContain(status.state);
      expect(statuses.some((s) => s.state === 'no-pcscd')).toBe(false);

      const ticksBefore = ticks;
      await new Promise((r) => setTimeout(r, 200));
      expect(ticks - ticksBefore).toBeGreaterThanOrEqual(10);

      const tc = performance.now();
      await reader.close();
      expect(performance.now() - tc).toBeLessThan(1000);
      const seen = statuses.length;
      await new Promise((r) => setTimeout(r, 100)); // pcsclite's late "Command cancelled" must be swallowed
      expect(statuses.length).toBe(seen);
      expect(defaultPcscdSocketPath({})).toBe('/run/pcscd/pcscd.comm');
    },
  );
});
