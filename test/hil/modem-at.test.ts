/**
 * AtModem against a real pty: the socat AT modem simulator (needs socat on PATH), and optionally a
 * real modem's AT port when MODEM_AT_PATH is set (e.g. MODEM_AT_PATH=/dev/lte-at npm run test:hil).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AtModem, type AtModemOptions } from '../../drivers/modem/at-modem.ts';
import { type AtModemSim, startAtModemSim } from '../support/at-modem-sim.ts';

function hasSocat(): boolean {
  try {
    execFileSync('socat', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!hasSocat())('AtModem on the socat pty simulator (needs socat on PATH)', () => {
  let dir: string;
  let sim: AtModemSim;
  let modem: AtModem | undefined;

  const make = async (extra: Partial<AtModemOptions> = {}): Promise<AtModem> => {
    modem = new AtModem({ path: sim.path, commandTimeoutMs: 2000, ...extra });
    await modem.open();
    return modem;
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'modem-hil-'));
    sim = await startAtModemSim({ dir });
  });

  afterEach(async () => {
    await modem?.close();
    modem = undefined;
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads registration, signal, operator and QLTS time over the pty', async () => {
    const m = await make();
    await expect(m.check()).resolves.toEqual({
      up: true,
      source: 'at',
      registration: 'home',
      signal: { csq: 20, rssiDbm: -73 },
      operator: 'SimNet',
      networkTimeMs: Date.UTC(2026, 10, 25, 10),
    });
    expect(sim.commands).toEqual(['ATE1', 'AT+CEREG?', 'AT+CSQ', 'AT+COPS?', 'AT+QLTS=1']);
  });

  it('searching is down; unknown CSQ and missing NITZ are left out', async () => {
    sim.set({ stat: 2, csq: 99, qlts: null, operator: null });
    const m = await make();
    await expect(m.check()).resolves.toEqual({
      up: false,
      source: 'at',
      registration: 'searching',
      signal: {},
      code: 'MODEM_NOT_REGISTERED',
    });
  });

  it('SIMCom: AT+CTZU=3 at open, time from AT+CCLK? (local 18:00 at +8h = 10:00 GMT)', async () => {
    sim.set({ vendor: 'simcom' });
    const m = await make({ vendor: 'simcom' });
    await expect(m.networkTime()).resolves.toBe(Date.UTC(2026, 10, 25, 10));
    expect(sim.commands).toEqual(['ATE1', 'AT+CTZU=3', 'AT+CCLK?']);
  });

  it('a mute modem times out as MODEM_NO_ANSWER, and the channel recovers afterwards', async () => {
    const m = await make({ commandTimeoutMs: 300 });
    sim.set({ mute: true });
    await expect(m.check()).resolves.toEqual({ up: false, source: 'at', code: 'MODEM_NO_ANSWER' });
    sim.set({ mute: false });
    await expect(m.check()).resolves.toMatchObject({ up: true });
  });

  it('a slow answer within the timeout still counts', async () => {
    const m = await make({ commandTimeoutMs: 1000, timeInCheck: false });
    sim.set({ delayMs: 100 });
    await expect(m.check()).resolves.toMatchObject({ up: true, operator: 'SimNet' });
  });

  it('reopens the port after the pty disappears and comes back', async () => {
    const m = await make({ reconnect: { initialMs: 50, maxMs: 200 } });
    expect((await m.check()).up).toBe(true);
    await sim.stop();
    await vi.waitFor(async () => expect(await m.check()).toMatchObject({ code: 'MODEM_PORT_DOWN' }), {
      timeout: 5000,
      interval: 50,
    });
    sim = await startAtModemSim({ dir });
    await vi.waitFor(async () => expect((await m.check()).up).toBe(true), { timeout: 5000, interval: 100 });
    expect(m.stats.reconnects).toBe(1);
  });
});

const realPath = process.env['MODEM_AT_PATH'];
describe.skipIf(realPath === undefined)('AtModem on a real modem (set MODEM_AT_PATH=/dev/lte-at)', () => {
  it('answers a LinkState from the AT port', async () => {
    const m = new AtModem({ path: realPath ?? '', commandTimeoutMs: 5000 });
    await m.open();
    try {
      const s = await m.check();
      expect(s.source).toBe('at');
      expect(typeof s.up).toBe('boolean');
      console.info('modem LinkState', s);
    } finally {
      await m.close();
    }
  });
});
