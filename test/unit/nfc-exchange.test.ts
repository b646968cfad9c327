import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BoxError } from '../../device/core/errors.ts';
import { toHex } from '../../device/core/encoding/bytes.ts';
import { silentLog } from '../../drivers/common/log.ts';
import { type BoxExchangeResult, runBoxExchange } from '../../drivers/nfc/exchange.ts';
import { ACR122U_LIMITS, FakeNfcReader, type FakeTapOptions } from '../../drivers/nfc/fake.ts';
import { classifyTransmitError } from '../../drivers/nfc/transmit-errors.ts';
import { createHceResponder } from '../../wallet/lib/nfc-hce.ts';

const ANSWER_700 = Uint8Array.from({ length: 700 }, (_, i) => (i * 13) & 0xff);

function makePhone(accept: (nonce: Uint8Array, answer: Uint8Array) => boolean = () => true) {
  const received: { nonce: Uint8Array; answer: Uint8Array }[] = [];
  let n = 0;
  const responder = createHceResponder({
    randomBytes: (len) => Uint8Array.from({ length: len }, () => (n++ * 31) & 0xff),
    onAnswer: (nonce, answer) => {
      received.push({ nonce, answer });
      return accept(nonce, answer);
    },
  });
  return { responder, received };
}

/** Opens a fake reader, taps once, returns the exchange result. */
async function tapOnce(
  phone: ReturnType<typeof makePhone>,
  opts: { tap?: FakeTapOptions; answer?: Uint8Array; reader?: FakeNfcReader; buildAnswer?: () => Uint8Array } = {},
) {
  const reader = opts.reader ?? new FakeNfcReader(ACR122U_LIMITS);
  await reader.open();
  let result: BoxExchangeResult | undefined;
  const nonces: Uint8Array[] = [];
  reader.onTap(async (tap) => {
    result = await runBoxExchange(tap.transmit, {
      log: silentLog,
      buildAnswer:
        opts.buildAnswer ??
        ((nonce) => {
          nonces.push(nonce);
          return opts.answer ?? ANSWER_700;
        }),
    });
  });
  await reader.tap(phone.responder, opts.tap);
  return { result: result!, reader, nonces };
}

describe('runBoxExchange against the HCE responder (fake reader, ACR122U limits)', () => {
  it('700-byte answer -> 3 chained chunks, phone accepts, same nonce on both sides', async () => {
    const phone = makePhone();
    const { result, reader, nonces } = await tapOnce(phone);
    expect(result).toMatchObject({ ok: true, chunks: 3 });
    expect(reader.transmits.map((t) => toHex(t.command.subarray(0, 4)))).toEqual([
      '00a40400',
      '90d00000',
      '90d00001',
      '80d00002',
    ]);
    expect(reader.transmits.every((t) => t.command.length <= ACR122U_LIMITS.maxCommandBytes)).toBe(true);
    expect(phone.received).toHaveLength(1);
    expect(toHex(phone.received[0]!.answer)).toBe(toHex(ANSWER_700));
    expect(toHex(nonces[0]!)).toBe(toHex(phone.received[0]!.nonce));
    if (result.ok) expect(toHex(result.phoneNonce)).toBe(toHex(phone.received[0]!.nonce));
  });

  it('async buildAnswer; a reader that rejects long commands gives a coded failure', async () => {
    const reader = new FakeNfcReader({ maxCommandBytes: 200 });
    await reader.open();
    const results: BoxExchangeResult[] = [];
    reader.onTap(async (tap) => {
      results.push(await runBoxExchange(tap.transmit, { log: silentLog, maxChunk: 255, buildAnswer: async () => ANSWER_700 }));
    });
    await reader.tap(makePhone().responder);
    expect(results[0]).toEqual({ ok: false, code: 'NFC_TRANSMIT_FAILED', step: 'put-answer', chunkIndex: 0 });
  });

  it('phone refuses (69 82) -> NFC_PHONE_REFUSED on the last chunk', async () => {
    const { result } = await tapOnce(makePhone(() => false));
    expect(result).toEqual({ ok: false, code: 'NFC_PHONE_REFUSED', step: 'put-answer', sw: '6982', chunkIndex: 2 });
  });

  it.each([0, 1, 2, 3])('phone pulled away at APDU %i -> NFC_REMOVED, phone never accepts', async (k) => {
    const phone = makePhone();
    const { result } = await tapOnce(phone, { tap: { removeAfter: k } });
    expect(result).toMatchObject({ ok: false, code: 'NFC_REMOVED', step: k === 0 ? 'select' : 'put-answer' });
    expect(phone.received).toHaveLength(0);
  });

  it('phone without our app (6A 82) -> NFC_NO_APP', async () => {
    const { result } = await tapOnce(makePhone(), { tap: { corrupt: (r, i) => (i === 0 ? Uint8Array.of(0x6a, 0x82) : r) } });
    expect(result).toEqual({ ok: false, code: 'NFC_NO_APP', step: 'select', sw: '6a82' });
  });

  it.each<[string, (r: Uint8Array, i: number) => Uint8Array, Partial<BoxExchangeResult>]>([
    ['empty select response', (r, i) => (i === 0 ? new Uint8Array(0) : r), { code: 'NFC_SHORT_RESPONSE', step: 'select' }],
    ['one-byte select response', (r, i) => (i === 0 ? r.subarray(0, 1) : r), { code: 'NFC_SHORT_RESPONSE', step: 'select' }],
    ['truncated nonce', (r, i) => (i === 0 ? Uint8Array.of(...r.subarray(0, 10), 0x90, 0x00) : r), { code: 'NFC_BAD_RESPONSE' }],
    ['wrong SW on select', (r, i) => (i === 0 ? Uint8Array.of(...r.subarray(0, 17), 0x6f, 0x00) : r), { code: 'NFC_BAD_SW', sw: '6f00' }],
    ['wrong version', (r, i) => (i === 0 ? Uint8Array.of(0x07, ...r.subarray(1)) : r), { code: 'NFC_UNSUPPORTED_VERSION' }],
    ['wrong SW mid-chain', (r, i) => (i === 2 ? Uint8Array.of(0x6a, 0x80) : r), { code: 'NFC_BAD_SW', step: 'put-answer', chunkIndex: 1 }],
    ['69 82 mid-chain', (r, i) => (i === 1 ? Uint8Array.of(0x69, 0x82) : r), { code: 'NFC_BAD_SW', chunkIndex: 0 }],
    ['data in an ack', (r, i) => (i === 3 ? Uint8Array.of(0x01, 0x90, 0x00) : r), { code: 'NFC_BAD_RESPONSE', chunkIndex: 2 }],
    ['garbage ack', (r, i) => (i === 1 ? new Uint8Array(40).fill(0xee) : r), { code: 'NFC_BAD_RESPONSE', chunkIndex: 0 }],
    ['response over 258 bytes', (r, i) => (i === 0 ? new Uint8Array(300) : r), { code: 'NFC_TRANSMIT_FAILED', step: 'select' }],
  ])('%s -> coded result, no throw', async (_name, corrupt, expected) => {
    const { result } = await tapOnce(makePhone(), { tap: { corrupt } });
    expect(result).toMatchObject({ ok: false, ...expected });
  });

  it('buildAnswer throwing or returning junk -> NFC_ANSWER_FAILED, nothing sent after SELECT', async () => {
    const throwing = await tapOnce(makePhone(), {
      buildAnswer: () => {
        throw new Error('signer offline');
      },
    });
    expect(throwing.result).toEqual({ ok: false, code: 'NFC_ANSWER_FAILED', step: 'build-answer' });
    expect(throwing.reader.transmits).toHaveLength(1);
    const empty = await tapOnce(makePhone(), { answer: new Uint8Array(0) });
    expect(empty.result).toMatchObject({ ok: false, code: 'NFC_ANSWER_FAILED' });
  });

  it('a transmit that throws synchronously or rejects with a non-error is still coded', async () => {
    const sync = await runBoxExchange(
      () => {
        throw new Error('SCardTransmit error: Card was removed.(0x80100069)');
      },
      { log: silentLog, buildAnswer: () => ANSWER_700 },
    );
    expect(sync).toEqual({ ok: false, code: 'NFC_REMOVED', step: 'select' });
    const weird = await runBoxExchange(() => Promise.reject(42), { log: silentLog, buildAnswer: () => ANSWER_700 });
    expect(weird).toEqual({ ok: false, code: 'NFC_TRANSMIT_FAILED', step: 'select' });
  });

  it('property: random response bytes never make it throw', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 1, maxLength: 6 }), async (responses) => {
        let i = 0;
        const transmit = async () => responses[Math.min(i++, responses.length - 1)]!;
        const r = await runBoxExchange(transmit, { log: silentLog, buildAnswer: () => ANSWER_700, apduTimeoutMs: 0 });
        if (!r.ok) expect(r.code).toMatch(/^NFC_/);
        else expect(r.chunks).toBe(3);
      }),
      { numRuns: 500 },
    );
  });
});

describe('runBoxExchange deadline (fake timers)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a transmit that never answers -> NFC_TIMEOUT after apduTimeoutMs', async () => {
    vi.useFakeTimers();
    const reader = new FakeNfcReader();
    await reader.open();
    let result: BoxExchangeResult | undefined;
    reader.onTap(async (tap) => {
      result = await runBoxExchange(tap.transmit, { log: silentLog, buildAnswer: () => ANSWER_700, apduTimeoutMs: 2000 });
    });
    const done = reader.tap(makePhone().responder, { hangAt: 2 });
    await vi.advanceTimersByTimeAsync(1999);
    expect(result).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    await done;
    expect(result).toEqual({ ok: false, code: 'NFC_TIMEOUT', step: 'put-answer', chunkIndex: 1 });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('classifyTransmitError', () => {
  it.each([
    [new BoxError('NFC_REMOVED', 'x'), 'NFC_REMOVED'],
    [new BoxError('NFC_TIMEOUT', 'x'), 'NFC_TIMEOUT'],
    [new BoxError('SOMETHING_ELSE', 'x'), 'NFC_TRANSMIT_FAILED'],
    // nfc-pcsc TransmitError shape: code 'failure', cause in previousError
    [
      Object.assign(new Error('An error occurred while transmitting.'), {
        code: 'failure',
        previousError: new Error('SCardTransmit error: Card was removed.(0x80100069)'),
      }),
      'NFC_REMOVED',
    ],
    [Object.assign(new Error('No card or connection available.'), { code: 'card_not_connected' }), 'NFC_REMOVED'],
    [new Error('SCardTransmit error: Command timeout.(0x8010000A)'), 'NFC_TIMEOUT'],
    [new Error('SCardTransmit error: Transaction failed.(0x80100016)'), 'NFC_TRANSMIT_FAILED'],
    [null, 'NFC_TRANSMIT_FAILED'],
    ['Card was reset', 'NFC_REMOVED'],
  ])('%s -> %s', (e, code) => {
    expect(classifyTransmitError(e)).toBe(code);
  });
});
