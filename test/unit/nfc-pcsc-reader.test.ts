import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLog } from '../../drivers/common/log.ts';
import { runBoxExchange } from '../../drivers/nfc/exchange.ts';
import { type NfcPcscModule, type PcscCardReaderLike, PcscNfcReader } from '../../drivers/nfc/pcsc-reader.ts';
import type { PcscdProbeResult } from '../../drivers/nfc/pcscd-probe.ts';
import type { NfcStatus, NfcTap } from '../../drivers/nfc/types.ts';
import { createHceResponder } from '../../wallet/lib/nfc-hce.ts';

/** Stand-in for nfc-pcsc's Reader: an EventEmitter with autoProcessing and transmit(Buffer, maxLen). */
class StubReader extends EventEmitter {
  autoProcessing = true;
  constructor(
    readonly name: string,
    public transmitImpl: (data: Buffer, max: number) => Promise<Buffer> = async () => Buffer.from([0x90, 0x00]),
  ) {
    super();
  }
  transmit(data: Buffer, max: number): Promise<Buffer> {
    return this.transmitImpl(data, max);
  }
}

class StubNfc extends EventEmitter {
  static instances: StubNfc[] = [];
  closed = false;
  constructor() {
    super();
    StubNfc.instances.push(this);
  }
  close(): void {
    this.closed = true;
  }
  attach(r: StubReader): void {
    this.emit('reader', r as unknown as PcscCardReaderLike);
  }
}

function setup(probeResults: PcscdProbeResult[]) {
  const statuses: NfcStatus[] = [];
  const taps: NfcTap[] = [];
  const probe = vi.fn(async () => probeResults.shift() ?? { reachable: false as const, reason: 'ENOENT' });
  const reader = new PcscNfcReader({
    log: silentLog,
    socketPath: '/nonexistent/pcscd.comm',
    probe,
    backoff: { initialMs: 1000, maxMs: 8000 },
    loadModule: async () => ({ NFC: StubNfc }) as unknown as NfcPcscModule,
  });
  reader.onStatus((s) => statuses.push(s));
  reader.onTap((t) => {
    taps.push(t);
  });
  return { reader, statuses, taps, probe };
}

describe('PcscNfcReader (stub nfc-pcsc, fake timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    StubNfc.instances = [];
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('missing nfc-pcsc -> open() throws NFC_DRIVER_MISSING naming the packages', async () => {
    const reader = new PcscNfcReader({
      log: silentLog,
      loadModule: () => Promise.reject(new Error("Cannot find package 'nfc-pcsc'")),
    });
    await expect(reader.open()).rejects.toMatchObject({
      code: 'NFC_DRIVER_MISSING',
      message: expect.stringMatching(/apt install libpcsclite-dev pcscd libccid.*npm i nfc-pcsc/),
    });
  });

  it('no pcscd -> no-pcscd without constructing NFC; re-probes with backoff; picks pcscd up later', async () => {
    const { reader, statuses, probe } = setup([
      { reachable: false, reason: 'ENOENT' },
      { reachable: false, reason: 'ECONNREFUSED' },
      { reachable: false, reason: 'ENOENT' },
      { reachable: true },
    ]);
    await reader.open();
    expect(statuses).toEqual([{ state: 'no-pcscd', readers: [], code: 'NFC_NO_PCSCD' }]);
    expect(StubNfc.instances).toHaveLength(0);
    expect(probe).toHaveBeenCalledWith('/nonexistent/pcscd.comm', 500);

    await vi.advanceTimersByTimeAsync(999);
    expect(probe).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1); // +1000: 2nd probe
    expect(probe).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(2000); // +2000: 3rd probe
    expect(probe).toHaveBeenCalledTimes(3);
    expect(StubNfc.instances).toHaveLength(0);
    expect(statuses).toHaveLength(1); // unchanged status is not repeated
    await vi.advanceTimersByTimeAsync(4000); // +4000: pcscd is there now
    expect(StubNfc.instances).toHaveLength(1);
    expect(statuses.at(-1)).toEqual({ state: 'no-reader', readers: [] });
    await reader.close();
    expect(StubNfc.instances[0]!.closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('backoff is capped at maxMs', async () => {
    const { reader, probe } = setup([]);
    await reader.open();
    await vi.advanceTimersByTimeAsync(1000 + 2000 + 4000 + 8000 + 8000);
    expect(probe).toHaveBeenCalledTimes(6);
    await reader.close();
  });

  it('reader attach/detach -> ready / no-reader; autoProcessing turned off', async () => {
    const { reader, statuses } = setup([{ reachable: true }]);
    await reader.open();
    const nfc = StubNfc.instances[0]!;
    const r1 = new StubReader('ACS ACR1252 1S CL Reader [ACR1252 1S CL Reader(1)] 00 00');
    nfc.attach(r1);
    expect(r1.autoProcessing).toBe(false);
    expect(statuses.at(-1)).toEqual({ state: 'ready', readers: [r1.name] });
    r1.emit('error', new Error('SCardGetStatusChange error'));
    r1.emit('end');
    expect(statuses.at(-1)).toEqual({ state: 'no-reader', readers: [] });
    await reader.close();
  });

  it('card -> onTap; a full exchange runs through reader.transmit(Buffer, maxLen)', async () => {
    const { reader, taps } = setup([{ reachable: true }]);
    await reader.open();
    const phone = createHceResponder({ randomBytes: (n) => new Uint8Array(n).fill(7), onAnswer: () => true });
    const sent: number[] = [];
    const r = new StubReader('Reader A', async (data, max) => {
      expect(Buffer.isBuffer(data)).toBe(true);
      sent.push(max);
      return Buffer.from(phone.respond(new Uint8Array(data)));
    });
    StubNfc.instances[0]!.attach(r);
    r.emit('card', { atr: Buffer.from([0x3b, 0x80]) });
    expect(taps).toHaveLength(1);
    expect(taps[0]!.readerName).toBe('Reader A');
    expect(Array.from(taps[0]!.atr!)).toEqual([0x3b, 0x80]);
    const result = await runBoxExchange(taps[0]!.transmit, {
      log: silentLog,
      buildAnswer: () => new Uint8Array(500),
    });
    expect(result).toMatchObject({ ok: true, chunks: 3 });
    expect(sent).toEqual([258, 258, 258, 258]);
    await reader.close();
  });

  it('transmit errors come out as coded BoxErrors (sync throw, removal, non-bytes)', async () => {
    const { reader, taps } = setup([{ reachable: true }]);
    await reader.open();
    const r = new StubReader('Reader B');
    StubNfc.instances[0]!.attach(r);
    r.emit('card', {});
    const tx = taps[0]!.transmit;
    r.transmitImpl = () => {
      throw Object.assign(new Error('No card or connection available.'), { code: 'card_not_connected' });
    };
    await expect(tx(new Uint8Array([0]), 2)).rejects.toMatchObject({ code: 'NFC_REMOVED' });
    r.transmitImpl = () =>
      Promise.reject(
        Object.assign(new Error('An error occurred while transmitting.'), {
          code: 'failure',
          previousError: new Error('SCardTransmit error: Transaction failed.(0x80100016)'),
        }),
      );
    await expect(tx(new Uint8Array([0]), 2)).rejects.toMatchObject({ code: 'NFC_TRANSMIT_FAILED' });
    r.transmitImpl = () => Promise.resolve('garbage' as unknown as Buffer);
    await expect(tx(new Uint8Array([0]), 2)).rejects.toMatchObject({ code: 'NFC_TRANSMIT_FAILED' });
    await reader.close();
  });

  it('a throwing or rejecting tap callback is survived', async () => {
    const { reader, taps } = setup([{ reachable: true }]);
    reader.onTap(() => {
      throw new Error('boom');
    });
    reader.onTap(() => Promise.reject(new Error('async boom')));
    await reader.open();
    const r = new StubReader('Reader C');
    StubNfc.instances[0]!.attach(r);
    r.emit('card', {});
    r.emit('card', {});
    await vi.advanceTimersByTimeAsync(0);
    expect(taps).toHaveLength(2);
    await reader.close();
  });

  it('pcscd dies -> teardown, no-pcscd, re-probe; comes back -> new NFC', async () => {
    const { reader, statuses } = setup([{ reachable: true }, { reachable: false, reason: 'ENOENT' }, { reachable: true }]);
    await reader.open();
    const first = StubNfc.instances[0]!;
    first.attach(new StubReader('R'));
    first.emit('error', new Error('SCardGetStatusChange error: RPC transport error.(0x80100013)'));
    expect(first.closed).toBe(true);
    expect(statuses.at(-1)).toEqual({ state: 'no-pcscd', readers: [], code: 'NFC_PCSC_ERROR' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(statuses.at(-1)).toEqual({ state: 'no-pcscd', readers: [], code: 'NFC_NO_PCSCD' });
    await vi.advanceTimersByTimeAsync(2000);
    expect(StubNfc.instances).toHaveLength(2);
    expect(statuses.at(-1)).toEqual({ state: 'no-reader', readers: [] });
    // the old context's late events are ignored
    first.emit('error', new Error('Command cancelled'));
    expect(statuses.at(-1)).toEqual({ state: 'no-reader', readers: [] });
    await reader.close();
  });

  it('constructor failure (e.g. polkit denial) -> error status and retry', async () => {
    let fail = true;
    const statuses: NfcStatus[] = [];
    const reader = new PcscNfcReader({
      log: silentLog,
      probe: async () => ({ reachable: true }),
      loadModule: async () =>
        ({
          NFC: class extends StubNfc {
            constructor() {
              if (fail) throw new Error('SCardEstablishContext error: Access denied.(0x8010006A)');
              super();
            }
          },
        }) as unknown as NfcPcscModule,
    });
    reader.onStatus((s) => statuses.push(s));
    await reader.open();
    expect(statuses).toEqual([{ state: 'error', readers: [], code: 'NFC_PCSC_ERROR' }]);
    fail = false;
    await vi.advanceTimersByTimeAsync(1000);
    expect(statuses.at(-1)).toEqual({ state: 'no-reader', readers: [] });
    await reader.close();
  });

  it('close() stops probing and silences statuses; open/close are idempotent', async () => {
    const { reader, statuses, probe } = setup([]);
    await reader.open();
    await reader.open();
    expect(probe).toHaveBeenCalledTimes(1);
    await reader.close();
    await reader.close();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(probe).toHaveBeenCalledTimes(1);
    expect(statuses).toHaveLength(1);
  });
});
