/** RFC 9285 Base45: official examples, the strict-decoder rejections, hostile inputs and round-trip properties. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BASE45_ALPHABET, base45Decode, base45Encode } from '../../device/core/encoding/base45.ts';
import { hex, loadVectors, toHexString } from '../support/vectors.ts';

interface Base45File {
  alphabet: string;
  encode: Array<{ hex: string; encoded: string }>;
  decode: Array<{ hex: string; encoded: string }>;
  invalid_decode: Array<{ encoded: string; reason: string }>;
}

const file = loadVectors<Base45File>('base45.json');

describe('base45 RFC 9285 vectors', () => {
  it('uses the RFC alphabet', () => {
    expect(BASE45_ALPHABET).toBe(file.alphabet);
  });

  it.each(file.encode.map((v) => [v.encoded, v] as const))('encodes to %j and decodes back', (_e, v) => {
    expect(base45Encode(hex(v.hex))).toBe(v.encoded);
    expect(toHexString(base45Decode(v.encoded))).toBe(v.hex);
  });

  it.each(file.decode.map((v) => [v.encoded, v] as const))('decodes %j', (_e, v) => {
    expect(toHexString(base45Decode(v.encoded))).toBe(v.hex);
    expect(base45Encode(hex(v.hex))).toBe(v.encoded);
  });

  it.each(file.invalid_decode.map((v) => [v.encoded, v.reason] as const))('rejects %j (%s)', (encoded) => {
    expect(base45Decode(encoded)).toBeNull();
  });
});

describe('base45 hostile inputs', () => {
  const hostile: Array<[string, unknown]> = [
    ['lower case', 'bb8'],
    ['non-ASCII', 'BB\u00e9'],
    ['astral', 'B\u{1F600}'],
    ['char code 128+', '\u0080AA'],
    ['one char', 'A'],
    ['3k+1 long', 'A'.repeat(3 * 21846 + 1)],
    ['max triplet + 1 at end', `000${'GGW'}`],
    ['final pair 256', '000V5'],
    ['not a string', 42],
    ['null', null],
  ];
  it.each(hostile)('%s gives null without throwing', (_n, input) => {
    expect(base45Decode(input as string)).toBeNull();
  });

  it('decodes 64 KiB of valid text and the empty string', () => {
    const big = new Uint8Array(65536).map((_, i) => (i * 31) & 0xff);
    expect(toHexString(base45Decode(base45Encode(big)))).toBe(toHexString(big));
    expect(base45Decode('')?.length).toBe(0);
  });

  it('accepts the boundary values FGW (65535) and U5 (255), rejects one above each', () => {
    expect(toHexString(base45Decode('FGW'))).toBe('ffff');
    expect(toHexString(base45Decode('U5'))).toBe('ff');
    expect(base45Decode('GGW')).toBeNull();
    expect(base45Decode('V5')).toBeNull();
  });
});

describe('base45 properties', () => {
  it('decode(encode(x)) === x and output stays in the alphabet with length 3k or 3k+2', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = base45Encode(bytes);
        expect(text.length).toBe(Math.floor(bytes.length / 2) * 3 + (bytes.length % 2) * 2);
        for (const ch of text) expect(BASE45_ALPHABET.includes(ch)).toBe(true);
        expect(toHexString(base45Decode(text))).toBe(toHexString(bytes));
      }),
    );
  });

  it('any accepted string is the unique encoding of its bytes (strictness)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...BASE45_ALPHABET.split('')), { maxLength: 40 }), (chars) => {
        const text = chars.join('');
        const bytes = base45Decode(text);
        if (bytes !== null) expect(base45Encode(bytes)).toBe(text);
      }),
    );
  });

  it('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (text) => {
        const r = base45Decode(text);
        expect(r === null || r instanceof Uint8Array).toBe(true);
      }),
    );
  });
});
