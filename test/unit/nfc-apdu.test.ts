import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../device/core/encoding/bytes.ts';
import {
  buildSelect,
  chunkAnswer,
  NFC_CODES,
  parsePutAnswerResponse,
  parseResponse,
  parseSelectResponse,
  QRPAY_AID,
} from '../../drivers/nfc/apdu.ts';

const hex = (s: string) => fromHex(s.replace(/\s+/g, ''));

const SELECT_FIXTURE = hex(
  [
    '00', // CLA interindustry
    'A4', // INS SELECT
    '04', // P1  select by DF name (AID)
    '00', // P2  first or only occurrence
    '07', // Lc  AID length
    'F0 515250 4159 01', // AID 'F0' proprietary + "QRPAY" + version 01
    '00', // Le  up to 256 bytes
  ].join(''),
);

const NONCE = '000102030405060708090a0b0c0d0e0f';
const SELECT_RESPONSE_FIXTURE = hex(
  [
    '01', // exchange version
    NONCE, // 16-byte phone nonce
    '9000', // SW OK
  ].join(''),
);

describe('nfc apdu: SELECT', () => {
  it('AID is F0 + "QRPAY" + 01', () => {
    expect(toHex(QRPAY_AID)).toBe('f0515250415901');
    expect(new TextDecoder().decode(QRPAY_AID.subarray(1, 6))).toBe('QRPAY');
  });

  it('buildSelect matches the byte fixture', () => {
    expect(toHex(buildSelect())).toBe(toHex(SELECT_FIXTURE));
    expect(toHex(buildSelect(QRPAY_AID))).toBe('00a4040007f051525041590100');
  });

  it('buildSelect rejects AIDs outside 5..16 bytes', () => {
    expect(() => buildSelect(new Uint8Array(4))).toThrow(/buildSelect: expected AID of 5\.\.16 bytes, got Uint8Array\(4\)/);
    expect(() => buildSelect(new Uint8Array(17))).toThrow(/Uint8Array\(17\)/);
  });

  it('parses version and phone nonce', () => {
    const r = parseSelectResponse(SELECT_RESPONSE_FIXTURE);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.version).toBe(1);
    expect(toHex(r.value.phoneNonce)).toBe(NONCE);
  });

  it.each([
    ['empty', '', NFC_CODES.SHORT_RESPONSE],
    ['one byte', '90', NFC_CODES.SHORT_RESPONSE],
    ['SW only', '9000', NFC_CODES.BAD_RESPONSE],
    ['unknown AID', '6a82', NFC_CODES.NO_APP],
    ['other SW', `01${NONCE}6985`, NFC_CODES.BAD_SW],
    ['wrong version', `02${NONCE}9000`, NFC_CODES.UNSUPPORTED_VERSION],
    ['nonce truncated', `01${NONCE.slice(2)}9000`, NFC_CODES.BAD_RESPONSE],
    ['nonce too long', `01${NONCE}ff9000`, NFC_CODES.BAD_RESPONSE],
  ])('rejects %s with a code', (_name, bytes, code) => {
    const r = parseSelectResponse(hex(bytes));
    expect(r).toMatchObject({ ok: false, code });
  });

  it('rejects non-bytes without throwing', () => {
    for (const v of [undefined, null, 'x', 42, {}, [0x90, 0x00]]) {
      expect(parseSelectResponse(v)).toMatchObject({ ok: false, code: NFC_CODES.BAD_RESPONSE });
    }
  });
});

describe('nfc apdu: PUT ANSWER chunking', () => {
  it('single chunk fixture', () => {
    const cmds = chunkAnswer(hex('aabbcc'), 240);
    expect(cmds.map(toHex)).toEqual([
      [
        '80', // CLA proprietary, last chunk (no chaining bit)
        'd0', // INS PUT ANSWER
        '00', // P1  reserved
        '00', // P2  chunk index 0
        '03', // Lc  3 data bytes
        'aabbcc', // answer bytes
      ].join(''),
    ]);
  });

  it('700 bytes at maxChunk 240 -> 3 chained chunks (240, 240, 220)', () => {
    const answer = Uint8Array.from({ length: 700 }, (_, i) => i & 0xff);
    const cmds = chunkAnswer(answer);
    expect(cmds.map((c) => c.length)).toEqual([245, 245, 225]);
    expect(cmds.map((c) => toHex(c.subarray(0, 5)))).toEqual([
      '90d00000f0', // CLA 90 (chaining), INS D0, P1 00, P2 00, Lc 240
      '90d00001f0', // CLA 90 (chaining), P2 01, Lc 240
      '80d00002dc', // CLA 80 (last),     P2 02, Lc 220
    ]);
    const rebuilt = new Uint8Array(cmds.flatMap((c) => Array.from(c.subarray(5))));
    expect(toHex(rebuilt)).toBe(toHex(answer));
  });

  it('every chunk fits an ACR122U short APDU (<= 261 bytes)', () => {
    for (const c of chunkAnswer(new Uint8Array(4096), 255)) expect(c.length).toBeLessThanOrEqual(261);
  });

  it('refuses empty, oversize answers and bad maxChunk', () => {
    expect(() => chunkAnswer(new Uint8Array(0))).toThrow(/chunkAnswer: expected 1\.\.4096 answer bytes, got Uint8Array\(0\)/);
    expect(() => chunkAnswer(new Uint8Array(4097))).toThrow(/Uint8Array\(4097\)/);
    expect(() => chunkAnswer(new Uint8Array(10), 0)).toThrow(/maxChunk 1\.\.255, got number 0/);
    expect(() => chunkAnswer(new Uint8Array(10), 256)).toThrow(/maxChunk/);
  });

  it.each([
    ['9000 intermediate', '9000', false, { ok: true, value: 'continue' }],
    ['9000 last', '9000', true, { ok: true, value: 'accepted' }],
    ['6982 last', '6982', true, { ok: false, code: NFC_CODES.PHONE_REFUSED, sw: 0x6982 }],
    ['6982 intermediate', '6982', false, { ok: false, code: NFC_CODES.BAD_SW, sw: 0x6982 }],
    ['6a80', '6a80', true, { ok: false, code: NFC_CODES.BAD_SW, sw: 0x6a80 }],
    ['data + 9000', '019000', true, { ok: false, code: NFC_CODES.BAD_RESPONSE }],
    ['one byte', '90', true, { ok: false, code: NFC_CODES.SHORT_RESPONSE }],
    ['empty', '', true, { ok: false, code: NFC_CODES.SHORT_RESPONSE }],
  ])('ack %s', (_name, bytes, isLast, expected) => {
    expect(parsePutAnswerResponse(hex(bytes), isLast)).toMatchObject(expected);
  });
});

describe('nfc apdu: parsers never throw', () => {
  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (b, last) => {
        for (const r of [parseResponse(b), parseSelectResponse(b), parsePutAnswerResponse(b, last)]) {
          expect(typeof r.ok).toBe('boolean');
          if (!r.ok) expect(r.code).toMatch(/^NFC_/);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('64 KiB of garbage', () => {
    const big = new Uint8Array(65536).fill(0xa5);
    expect(parseSelectResponse(big)).toMatchObject({ ok: false, code: NFC_CODES.BAD_SW });
    expect(parsePutAnswerResponse(big, true)).toMatchObject({ ok: false });
  });
});
