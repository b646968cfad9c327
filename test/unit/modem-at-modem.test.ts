import { SerialPortMock } from 'serialport';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isBoxError } from '../../device/core/errors.ts';
import { AtModem, type AtModemOptions } from '../../drivers/modem/at-modem.ts';
import type { Reachability } from '../../drivers/modem/reachability.ts';

const PATH = '/dev/lte-at';
// @serialport/binding-mock's ESM entry has no typings; serialport re-exposes the same object typed.
const MockBinding = SerialPortMock.binding;
type MockPortBinding = Awaited<ReturnType<typeof MockBinding.open>>;

/**
 * MockBinding with a scripted modem: every written command goes to `respond`, whose answer (if any)
 * is emitted back. `unplug()` fails the pending read the way a vanished ttyUSB does; reopening
 * fails until `plugIn()`.
 */
function scriptedBinding(respond: (cmd: string) => string | undefined) {
  MockBinding.reset();
  MockBinding.createPort(PATH);
  let present = true;
  const pendingReads = new Set<(e: Error) => void>();
  const gone = () => Object.assign(new Error('device disconnected'), { disconnected: true });
  const writes: string[] = [];
  const binding = {
    list: () => MockBinding.list(),
    async open(opts: Parameters<typeof MockBinding.open>[0]) {
      if (!present) throw Object.assign(new Error(`ENOENT: no such file ${opts.path}`), { code: 'ENOENT' });
      const port: MockPortBinding = await MockBinding.open(opts);
      const write = port.write.bind(port);
      port.write = async (buf: Buffer) => {
        await write(buf);
        const cmd = buf.toString('latin1').replace(/\r$/, '');
        writes.push(cmd);
        const out = respond(cmd);
        if (out !== undefined && port.isOpen) port.emitData(out);
      };
      const read = port.read.bind(port);
      port.read = (b: Buffer, o: number, l: number) =>
        new Promise((res, rej) => {
          if (!present) return rej(gone());
          pendingReads.add(rej);
          read(b, o, l).then(res, rej).finally(() => pendingReads.delete(rej));
        });
      return port;
    },
  };
  return {
    binding,
    writes,
    unplug() {
      present = false;
      for (const rej of pendingReads) rej(gone());
    },
    plugIn() {
      present = true;
    },
  };
}

/** Modem replies, CRLF-framed like a real one: "\r\n<line>\r\n...\r\nOK\r\n". */
const ok = (...lines: string[]): string => lines.map((l) => `\r\n${l}\r\n`).join('') + '\r\nOK\r\n';

interface Sim {
  stat: number;
  csq: number;
  qlts: string;
  echo: boolean;
  mute: Set<string>;
  /** Prepended to the next answer: a late reply to an earlier command. */
  late: string;
}

function modemScript(sim: Sim) {
  return (cmd: string): string | undefined => {
    if (sim.mute.has(cmd)) return undefined;
    const echo = sim.late + (sim.echo ? `${cmd}\r` : '');
    sim.late = '';
    switch (cmd) {
      case 'ATE1':
        return echo + ok();
      case 'AT+CEREG?':
        return echo + ok(`+CEREG: 0,${sim.stat}`); // <n=0>,<stat>
      case 'AT+CSQ':
        return echo + ok(`+CSQ: ${sim.csq},99`); // <rssi>,<ber=99 unknown>
      case 'AT+COPS?':
        return echo + ok('+COPS: 0,0,"TestNet",7'); // <mode=auto>,<format=long>,<oper>,<AcT=7 LTE>
      case 'AT+QLTS=1':
        return echo + ok(`+QLTS: "${sim.qlts}"`);
      case 'AT+CCLK?':
        return echo + ok('+CCLK: "26/11/25,18:00:00+32"'); // local 18:00 at +8h -> 10:00 GMT
      default:
        return `${echo}\r\nERROR\r\n`;
    }
  };
}

/** Let serialport's nextTick/promise chains run (timers are fake, setImmediate is real). */
async function flush(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

describe('AtModem on @serialport/binding-mock', () => {
  let sim: Sim;
  let rig: ReturnType<typeof scriptedBinding>;
  let modem: AtModem | undefined;

  const make = async (extra: Partial<AtModemOptions> = {}): Promise<AtModem> => {
    modem = new AtModem({ path: PATH, binding: rig.binding, commandTimeoutMs: 1000, ...extra });
    await modem.open();
    return modem;
  };

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    sim = { stat: 1, csq: 20, qlts: '2026/11/25,10:00:00+32,0', echo: true, mute: new Set(), late: '' };
    rig = scriptedBinding(modemScript(sim));
  });

  afterEach(async () => {
    await modem?.close();
    modem = undefined;
    vi.useRealTimers();
  });

  it('reports up, signal, operator and network time when registered', async () => {
    const m = await make();
    await expect(m.check()).resolves.toEqual({
      up: true,
      source: 'at',
      registration: 'home',
      signal: { csq: 20, rssiDbm: -73 },
      operator: 'TestNet',
      networkTimeMs: Date.UTC(2026, 10, 25, 10),
    });
    expect(rig.writes).toEqual(['ATE1', 'AT+CEREG?', 'AT+CSQ', 'AT+COPS?', 'AT+QLTS=1']);
  });

  it('is down with MODEM_NOT_REGISTERED while searching, and roaming counts as up', async () => {
    const m = await make();
    sim.stat = 2;
    await expect(m.check()).resolves.toMatchObject({ up: false, registration: 'searching', code: 'MODEM_NOT_REGISTERED' });
    sim.stat = 5;
    await expect(m.check()).resolves.toMatchObject({ up: true, registration: 'roaming' });
  });

  it('leaves signal empty for CSQ 99 and time out without NITZ', async () => {
    const m = await make();
    sim.csq = 99;
    sim.qlts = '';
    const s = await m.check();
    expect(s.signal).toEqual({});
    expect(s.networkTimeMs).toBeUndefined();
  });

  it('registered is not enough when a reachability probe is configured', async () => {
    const probe = vi.fn<Reachability['probe']>().mockResolvedValue({ ok: false, code: 'TIMEOUT' });
    const m = await make({ reachability: { probe } });
    await expect(m.check()).resolves.toMatchObject({ up: false, registration: 'home', code: 'BACKEND_UNREACHABLE' });
    probe.mockResolvedValue({ ok: true, ms: 40 });
    await expect(m.check()).resolves.toMatchObject({ up: true });
    // not registered: the probe is not even tried
    sim.stat = 3;
    probe.mockClear();
    await expect(m.check()).resolves.toMatchObject({ up: false, registration: 'denied' });
    expect(probe).not.toHaveBeenCalled();
  });

  it('runs commands one at a time in call order', async () => {
    const m = await make();
    const [a, b, c] = await Promise.all([m.command('AT+CSQ'), m.command('AT+CEREG?'), m.command('AT+BOGUS')]);
    expect(a).toEqual({ ok: true, lines: ['+CSQ: 20,99'] });
    expect(b).toEqual({ ok: true, lines: ['+CEREG: 0,1'] });
    expect(c).toEqual({ ok: false, code: 'ERROR', lines: [] });
    expect(rig.writes.slice(1)).toEqual(['AT+CSQ', 'AT+CEREG?', 'AT+BOGUS']);
  });

  it('times a silent command out, then drops its late answer before the next echo', async () => {
    const m = await make();
    sim.mute.add('AT+CSQ');
    let settled = false;
    const pending = m.command('AT+CSQ', 500).finally(() => {
      settled = true;
    });
    await flush();
    await vi.advanceTimersByTimeAsync(499);
    await flush();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await expect(pending).resolves.toEqual({ ok: false, code: 'TIMEOUT', lines: [] });
    // The late answer to AT+CSQ arrives just before the next command's echo.
    sim.mute.clear();
    sim.late = ok('+CSQ: 5,99');
    await expect(m.command('AT+CEREG?')).resolves.toEqual({ ok: true, lines: ['+CEREG: 0,1'] });
    expect(m.stats).toMatchObject({ timeouts: 1, stale: 2 });
  });

  it('with echo off a late answer costs one more timeout, then the channel recovers', async () => {
    sim.echo = false;
    const m = await make();
    sim.mute.add('AT+CSQ');
    const first = m.command('AT+CSQ', 500);
    await flush();
    await vi.advanceTimersByTimeAsync(500);
    await expect(first).resolves.toMatchObject({ code: 'TIMEOUT' });
    sim.mute.clear();
    sim.late = ok('+CSQ: 5,99');
    // No echo to frame on: the next answer cannot be told from the late one, so it is not trusted.
    const second = m.command('AT+CEREG?', 500);
    await flush();
    await vi.advanceTimersByTimeAsync(500);
    await expect(second).resolves.toMatchObject({ ok: false, code: 'TIMEOUT' });
    await expect(m.command('AT+CEREG?')).resolves.toEqual({ ok: true, lines: ['+CEREG: 0,1'] });
  });

  it('answers PORT_DOWN after unplug and reopens with exponential backoff', async () => {
    const m = await make({ reconnect: { initialMs: 1000, maxMs: 4000 } });
    rig.unplug();
    await flush();
    await expect(m.check()).resolves.toEqual({ up: false, source: 'at', code: 'MODEM_PORT_DOWN' });
    await expect(m.command('AT')).resolves.toMatchObject({ ok: false, code: 'PORT_DOWN' });

    const opensBefore = rig.writes.filter((w) => w === 'ATE1').length;
    // Still unplugged: attempts at +1 s, +2 s, +4 s, +4 s (capped) all fail.
    for (const step of [1000, 2000, 4000, 4000]) {
      await vi.advanceTimersByTimeAsync(step);
      await flush();
    }
    expect(m.stats.reconnects).toBe(0);
    rig.plugIn();
    await vi.advanceTimersByTimeAsync(3999);
    await flush();
    expect(m.stats.reconnects).toBe(0); // the next attempt is 4 s after the last one
    await vi.advanceTimersByTimeAsync(1);
    await flush();
    expect(m.stats.reconnects).toBe(1);
    expect(rig.writes.filter((w) => w === 'ATE1').length).toBe(opensBefore + 1); // init ran again
    await expect(m.check()).resolves.toMatchObject({ up: true });
  });

  it('check() before open and after close is down without throwing; close is idempotent', async () => {
    const m = new AtModem({ path: PATH, binding: rig.binding });
    await expect(m.check()).resolves.toEqual({ up: false, source: 'at', code: 'NOT_OPEN' });
    await m.open();
    await m.close();
    await m.close();
    await expect(m.check()).resolves.toEqual({ up: false, source: 'at', code: 'NOT_OPEN' });
    await expect(m.command('AT')).resolves.toMatchObject({ ok: false, code: 'CLOSED' });
  });

  it('open() throws a BoxError naming the path when the port is missing, and rejects bad config', async () => {
    rig.unplug();
    const m = new AtModem({ path: PATH, binding: rig.binding });
    const err = await m.open().catch((e: unknown) => e);
    expect(isBoxError(err) && err.code).toBe('MODEM_OPEN_FAILED');
    expect((err as Error).message).toContain('at-modem.open: cannot open /dev/lte-at');
    const bad = new AtModem({ path: PATH, baudRate: 'fast' as unknown as number, binding: rig.binding });
    await expect(bad.open()).rejects.toThrow('at-modem.open: expected baudRate integer, got "fast"');
  });

  it('falls back from AT+QLTS to AT+CCLK? on a modem that answers ERROR (auto vendor)', async () => {
    const script = modemScript(sim);
    rig = scriptedBinding((cmd) => (cmd === 'AT+QLTS=1' ? '\r\nERROR\r\n' : script(cmd)));
    const m = await make();
    await expect(m.networkTime()).resolves.toBe(Date.UTC(2026, 10, 25, 10));
    await expect(m.networkTime()).resolves.toBe(Date.UTC(2026, 10, 25, 10));
    expect(rig.writes.filter((w) => w === 'AT+QLTS=1')).toHaveLength(1);
    expect(rig.writes.filter((w) => w === 'AT+CCLK?')).toHaveLength(2);
  });

  it('simcom vendor enables network time updates at open and reads AT+CCLK?', async () => {
    const m = await make({ vendor: 'simcom' });
    expect(rig.writes.slice(0, 2)).toEqual(['ATE1', 'AT+CTZU=3']);
    await m.networkTime();
    expect(rig.writes.at(-1)).toBe('AT+CCLK?');
  });
});
