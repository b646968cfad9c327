import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Gm65, Gm65Zone } from '../../drivers/scanner/gm65.ts';
import { Gm65Simulator } from '../../drivers/scanner/gm65-sim.ts';

describe('Gm65 against the simulator', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Settles a command: replies come on microtasks, timeouts on fake timers. */
  async function settle<T>(p: Promise<T>): Promise<T> {
    const outcome = p.then(
      (v) => ({ ok: true as const, v }),
      (e: unknown) => ({ ok: false as const, e }),
    );
    await vi.runAllTimersAsync();
    const r = await outcome;
    if (!r.ok) throw r.e;
    return r.v;
  }

  it('configures a factory-default module once; a second run writes and saves nothing', async () => {
    const sim = new Gm65Simulator({ baudRate: 9600, zones: { [Gm65Zone.mode]: 0b1000_0000, [Gm65Zone.output]: 0b1011_1111 } });
    const transport = sim.transport();
    const gm = new Gm65(transport);
    expect(await settle(gm.probeBaud())).toBe(9600);

    const first = await settle(gm.configure({ terminator: 'CR' }));
    expect(first).toEqual({ written: ['mode', 'scanEnable', 'terminator', 'baud'], saved: true, firmware: 0x87 });
    expect(sim.zones.get(Gm65Zone.mode)).toBe(0b1000_0010); // other bits kept, mode = continuous
    expect(sim.zones.get(Gm65Zone.scanEnable)).toBe(1);
    expect(sim.zones.get(Gm65Zone.output)).toBe(0b1001_1111); // bits 6-5: 01 -> 00 (CR), others kept
    expect(sim.baudRate).toBe(115200);
    expect(sim.eepromSaves).toBe(1);
    const writesAfterFirst = sim.zoneWrites;

    const second = await settle(gm.configure({ terminator: 'CR' }));
    expect(second).toEqual({ written: [], saved: false, firmware: 0x87 });
    expect(sim.zoneWrites).toBe(writesAfterFirst);
    expect(sim.eepromSaves).toBe(1);
  });

  it('baud probe tries 115200, 9600, 57600 in order and finds the module at 57600', async () => {
    const sim = new Gm65Simulator({ baudRate: 57600 });
    const transport = sim.transport();
    const tried: number[] = [];
    const spy = {
      ...transport,
      setBaudRate: async (b: number) => {
        tried.push(b);
        await transport.setBaudRate(b);
      },
    };
    const gm = new Gm65(spy, { timeoutMs: 200 });
    expect(await settle(gm.probeBaud())).toBe(57600);
    expect(tried).toEqual([115200, 9600, 57600]);
  });

  it('baud probe returns undefined when nothing answers', async () => {
    const sim = new Gm65Simulator();
    sim.mute = true;
    const gm = new Gm65(sim.transport());
    expect(await settle(gm.probeBaud())).toBeUndefined();
  });

  it('every command times out when the module stays silent (bad frame, wrong baud)', async () => {
    const sim = new Gm65Simulator({ baudRate: 115200 });
    const transport = sim.transport();
    await transport.setBaudRate(9600);
    const gm = new Gm65(transport, { timeoutMs: 300 });
    const p = gm.read(Gm65Zone.mode);
    const caught = p.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(299);
    expect(sim.framesSeen).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(await caught).toMatchObject({ code: 'GM65_TIMEOUT', retryable: true, message: expect.stringContaining('gm65.read 0x0000') });
    // The next command is not blocked by the failed one.
    await transport.setBaudRate(115200);
    expect(await settle(gm.read(Gm65Zone.firmware))).toEqual(Uint8Array.of(0x87));
  });

  it('reads the firmware version', async () => {
    const sim = new Gm65Simulator({ firmware: 0x91 });
    const transport = sim.transport();
    const gm = new Gm65(transport);
    expect(await settle(gm.firmwareVersion())).toBe(0x91);
  });

  it('rejects an unsupported target baud without touching the module', async () => {
    const sim = new Gm65Simulator();
    const gm = new Gm65(sim.transport());
    await expect(gm.configure({ terminator: 'CR', baudRate: 1234 })).rejects.toMatchObject({ code: 'GM65_CONFIG' });
    expect(sim.framesSeen).toBe(0);
  });
});
