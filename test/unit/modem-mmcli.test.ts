import { describe, expect, it, vi } from 'vitest';
import { isBoxError } from '../../device/core/errors.ts';
import { type ExecFn, MmcliConnectivity, parseMmcliModem, parseMmcliTime } from '../../drivers/modem/mmcli.ts';

/** `mmcli -m any -J` with a bearer up (trimmed to the fields we read plus neighbours). */
const CONNECTED = JSON.stringify({
  modem: {
    generic: {
      state: 'connected', // a bearer is active: up
      'state-failed-reason': '--',
      'signal-quality': { value: '75', recent: 'yes' }, // percent
      'access-technologies': ['lte'],
      model: 'EC25',
    },
    '3gpp': { 'registration-state': 'home', 'operator-name': 'Vodafone.de', 'operator-code': '26202' },
  },
});

/** Registered on the network but no bearer: NOT up. */
const REGISTERED = JSON.stringify({
  modem: {
    generic: { state: 'registered', 'signal-quality': { value: '40', recent: 'no' } },
    '3gpp': { 'registration-state': 'roaming', 'operator-name': '--', 'operator-code': '23415' },
  },
});

/** `mmcli -m any --time -J`. */
const TIME = JSON.stringify({ modem: { time: { current: '2026-11-25T18:00:00+08:00', 'network-timezone': {} } } });

function execFor(outputs: Record<string, string | Error>): ExecFn & { calls: string[][] } {
  const calls: string[][] = [];
  const fn: ExecFn = async (_file, args) => {
    calls.push(args);
    const key = args.join(' ');
    const out = outputs[key];
    if (out === undefined) throw Object.assign(new Error(`exit 1 for ${key}`), { code: 1 });
    if (out instanceof Error) throw out;
    return { stdout: out };
  };
  return Object.assign(fn, { calls });
}

describe('parseMmcliModem', () => {
  it('reads state, registration, operator and signal percent', () => {
    expect(parseMmcliModem(CONNECTED)).toEqual({
      state: 'connected',
      registration: 'home',
      operator: 'Vodafone.de',
      percent: 75,
    });
    // "--" means "unknown" in mmcli: fall back to the numeric operator code
    expect(parseMmcliModem(REGISTERED)).toEqual({ state: 'registered', registration: 'roaming', operator: '23415', percent: 40 });
  });

  it.each(['', 'garbage', 'error: couldn\'t find modem', '{}', '{"modem":{}}', '{"modem":{"generic":{"state":5}}}', '[]', 'null'])(
    'answers undefined for %j',
    (out) => {
      expect(parseMmcliModem(out)).toBeUndefined();
    },
  );

  it('ignores an out-of-range signal value', () => {
    const j = JSON.stringify({ modem: { generic: { state: 'connected', 'signal-quality': { value: '250' } } } });
    expect(parseMmcliModem(j)).toEqual({ state: 'connected' });
  });
});

describe('parseMmcliTime', () => {
  it('reads modem.time.current as UTC ms', () => {
    expect(parseMmcliTime(TIME)).toBe(Date.UTC(2026, 10, 25, 10));
  });
  it.each(['', '{}', '{"modem":{"time":{"current":"--"}}}', '{"modem":{"time":{"current":"yesterday"}}}'])('drops %j', (s) => {
    expect(parseMmcliTime(s)).toBeUndefined();
  });
});

describe('MmcliConnectivity', () => {
  const version = { '--version': 'mmcli 1.20.0' };

  it('connected is up, with signal, operator and time', async () => {
    const exec = execFor({ ...version, '-m any -J': CONNECTED, '-m any --time -J': TIME });
    const c = new MmcliConnectivity({ exec });
    await c.open();
    await expect(c.check()).resolves.toEqual({
      up: true,
      source: 'mmcli',
      registration: 'home',
      operator: 'Vodafone.de',
      signal: { percent: 75 },
      networkTimeMs: Date.UTC(2026, 10, 25, 10),
    });
  });

  it('registered is down (no bearer)', async () => {
    const c = new MmcliConnectivity({ exec: execFor({ ...version, '-m any -J': REGISTERED }) });
    await c.open();
    await expect(c.check()).resolves.toEqual({
      up: false,
      source: 'mmcli',
      registration: 'roaming',
      operator: '23415',
      signal: { percent: 40 },
      code: 'MODEM_NOT_CONNECTED',
    });
  });

  it('a missing modem (mmcli exits non-zero) is down with MODEM_MISSING', async () => {
    const c = new MmcliConnectivity({ exec: execFor(version) });
    await c.open();
    await expect(c.check()).resolves.toEqual({ up: false, source: 'mmcli', code: 'MODEM_MISSING' });
  });

  it('garbage output is down with MMCLI_BAD_OUTPUT', async () => {
    const c = new MmcliConnectivity({ exec: execFor({ ...version, '-m any -J': 'Segmentation fault\n' }) });
    await c.open();
    await expect(c.check()).resolves.toEqual({ up: false, source: 'mmcli', code: 'MMCLI_BAD_OUTPUT' });
  });

  it('passes the modem selector and timeout to exec; skips time when asked', async () => {
    const exec = vi.fn<ExecFn>(async () => ({ stdout: CONNECTED }));
    const c = new MmcliConnectivity({ exec, modem: '0', timeoutMs: 1234, timeInCheck: false });
    await c.open();
    await c.check();
    expect(exec.mock.calls.map((a) => a[1])).toEqual([['--version'], ['-m', '0', '-J']]);
    expect(exec.mock.calls[1]?.[2]).toEqual({ timeout: 1234 });
  });

  it('open() throws MODEM_DRIVER_MISSING naming the apt package when mmcli is absent', async () => {
    const enoent = Object.assign(new Error('spawn mmcli ENOENT'), { code: 'ENOENT' });
    const c = new MmcliConnectivity({ exec: execFor({ '--version': enoent }) });
    const err = await c.open().catch((e: unknown) => e);
    expect(isBoxError(err) && err.code).toBe('MODEM_DRIVER_MISSING');
    expect((err as Error).message).toBe('mmcli.open: "mmcli" not found (apt install modemmanager)');
  });

  it('check() before open is down without running mmcli', async () => {
    const exec = execFor({});
    await expect(new MmcliConnectivity({ exec }).check()).resolves.toEqual({ up: false, source: 'mmcli', code: 'NOT_OPEN' });
    expect(exec.calls).toEqual([]);
  });
});
