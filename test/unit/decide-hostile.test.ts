/**
 * The hostile-input table (test/support/hostile.ts) against every public decoder and decide(),
 * plus fast-check properties: nothing throws, decide never accepts a hostile or mutated code.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Decision, decide } from '../../device/core/decide.ts';
import { base45Decode, base45Encode } from '../../device/core/encoding/base45.ts';
import { equalBytes, fromHex } from '../../device/core/encoding/bytes.ts';
import { decodeAuthorization } from '../../device/core/protocol/authorization.ts';
import { cardFromText, cardToText, decodeCard } from '../../device/core/protocol/card.ts';
import { decodeCredential } from '../../device/core/protocol/credential.ts';
import { decodeDebit } from '../../device/core/protocol/debit.ts';
import { parseEnvelope } from '../../device/core/protocol/envelope.ts';
import { decodeNfcAnswer } from '../../device/core/protocol/nfc-answer.ts';
import { envelopeBytes, envelopeFromBytes, hostileBytes, hostileStrings } from '../support/hostile.ts';
import { allProviders } from '../support/vectors.ts';
import { baseInput, makeWorld, openNfcTap } from '../support/world.ts';

/** Rows whose input can never be a valid item: the decoder must return null for them. */
const MUST_BE_NULL = /^(empty|one byte|64 KiB|truncated|valid \+|valid twice|wrong version|version 0|first byte|all )/;
/** The authorization has no magic or version byte (byte 2 is inside cardSerial). */
const MUST_BE_NULL_NO_MAGIC = /^(empty|one byte|64 KiB|truncated|valid \+|valid twice|first byte|all )/;

/** X25519 points whose DH result is all zeros (RFC 7748 low-order points and u = 0, 1). */
const LOW_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
].map(fromHex);

describe.each(allProviders())('hostile inputs (%s)', (name, p) => {
  const w = makeWorld(p);
  const A = w.shopA.cards[0]!;
  const code = w.wallet(1).pay(A, 12_50).text;
  const accepted = decide(p, baseInput(w, code));
  if (accepted.kind !== 'accept') throw new Error(`setup: the valid code was declined (${accepted.code})`);
  const debit = decodeDebit(accepted.record)!;
  const valid = {
    envelopeText: code,
    envelope: envelopeBytes(code),
    cardText: cardToText(A),
    card: A.bytes,
    credential: w.wallet(1).credential.bytes,
    authorization: debit.authorization,
    debit: accepted.record,
    nfcAnswer: openNfcTap(p, w).answerBytes,
  };

  /** decide() on `text`: must decline, and through a normal path, not its catch-all. */
  const expectDeclined = (text: string): Decision => {
    const d = decide(p, baseInput(w, text));
    expect(d.kind, `accepted ${JSON.stringify(String(text).slice(0, 40))}`).toBe('decline');
    if (d.kind === 'decline') expect(d.detail, 'decide reached its catch-all').not.toMatch(/^internal/);
    return d;
  };

  const stringRows = [...hostileStrings(valid.envelopeText, 'QP:'), ...hostileStrings(valid.cardText, 'QC:')];

  const checkText = (input: string): void => {
    expect(() => parseEnvelope(input)).not.toThrow();
    expect(() => base45Decode(input)).not.toThrow();
    expect(() => cardFromText(input)).not.toThrow();
    expect(cardFromText(input)).toBeNull();
    expectDeclined(input);
  };

  describe('text decoders and decide()', () => {
    it.each(stringRows.filter(([row]) => !row.startsWith('truncated')))('%s', (_row, input) => checkText(input));

    it('truncated at every length (envelope text and card text)', () => {
      const rows = stringRows.filter(([row]) => row.startsWith('truncated'));
      expect(rows.length).toBe(valid.envelopeText.length + valid.cardText.length);
      for (const [, input] of rows) checkText(input);
    });

    it('wrong versions and suites are UNSUPPORTED_VERSION', () => {
      for (const [v, s] of [[0, 1], [2, 1], [255, 1], [1, 0], [1, 2], [1, 255]] as const) {
        const b = valid.envelope.slice();
        b[0] = v;
        b[1] = s;
        const parsed = parseEnvelope(envelopeFromBytes(b));
        expect(parsed.ok ? 'ok' : parsed.code).toBe('UNSUPPORTED_VERSION');
        expect(expectDeclined(envelopeFromBytes(b))).toMatchObject({ code: 'UNSUPPORTED_VERSION' });
      }
    });

    it('non-string input is MALFORMED, not a throw (parseEnvelope, base45Decode, decide)', () => {
      for (const v of [undefined, null, 42, {}, [], new Uint8Array(4)] as unknown[]) {
        expect(parseEnvelope(v as string)).toMatchObject({ ok: false, code: 'MALFORMED' });
        expect(base45Decode(v as string)).toBeNull();
        expect(expectDeclined(v as string)).toMatchObject({ code: 'MALFORMED' });
      }
    });

    // A POS charge id the debit record cannot encode (non-ASCII, too long, empty) is a box-side
    // input: it is declined as NO_CHARGE through a normal path, never the catch-all.
    it('a POS charge id the debit record cannot encode is declined as NO_CHARGE', () => {
      for (const chargeId of ['CAFÉ-1', 'X'.repeat(300), '', 'has space']) {
        const d = decide(p, baseInput(w, w.wallet(1).pay(A, 12_50).text, { amount: { kind: 'charge', chargeId, amount: 12_50, currency: 'EUR' } }));
        expect(d).toMatchObject({ kind: 'decline', code: 'NO_CHARGE' });
        expect(d.kind === 'decline' ? d.detail : '').not.toMatch(/^internal/);
      }
    });

    it('low-order and non-canonical enc points under a valid key id are DECRYPT_FAILED', () => {
      for (const enc of LOW_ORDER) {
        const b = valid.envelope.slice();
        b.set(enc, 10);
        expect(expectDeclined(envelopeFromBytes(b))).toMatchObject({ code: 'DECRYPT_FAILED' });
      }
    });
  });

  describe('binary decoders', () => {
    const decoders: Array<[string, (b: Uint8Array) => unknown, Uint8Array, RegExp]> = [
      ['decodeCard', decodeCard, valid.card, MUST_BE_NULL],
      ['decodeCredential', decodeCredential, valid.credential, MUST_BE_NULL],
      ['decodeAuthorization', decodeAuthorization, valid.authorization, MUST_BE_NULL_NO_MAGIC],
      ['decodeDebit', decodeDebit, valid.debit, MUST_BE_NULL],
      ['decodeNfcAnswer', decodeNfcAnswer, valid.nfcAnswer, MUST_BE_NULL],
    ];
    const others = decoders.map(([, , v]) => v);

    it.each(decoders)('%s decodes its valid item', (_n, decode, item) => {
      expect(decode(item)).not.toBeNull();
    });

    it.each(decoders)('%s: the hostile table never throws; impossible items are null', (_n, decode, item, mustBeNull) => {
      const rows = hostileBytes(item, name === 'node' ? 256 : 64);
      for (const [row, input] of rows) {
        let out: unknown;
        expect(() => {
          out = decode(input);
        }, row).not.toThrow();
        if (mustBeNull.test(row)) expect(out, row).toBeNull();
      }
      // Every other item type, and the Base45 text bytes, are not this item.
      for (const other of others) if (other !== item) expect(decode(other)).toBeNull();
      expect(decode(new TextEncoder().encode(valid.envelopeText))).toBeNull();
    });

    it('maximal length prefixes (bytes16 = 0xffff, str8 = 0xff) are null', () => {
      expect(decodeNfcAnswer(Uint8Array.of(0x4e, 0x41, 1, 0xff, 0xff, 1, 2, 3))).toBeNull();
      const d = valid.debit.slice();
      // chargeId str8 length sits after magic 3 + debitId 16 + deviceKeyId 8 + 4 u32 fields.
      d[3 + 16 + 8 + 16] = 0xff;
      expect(decodeDebit(d)).toBeNull();
      const c = valid.card.slice();
      c[4 + 4 + 2] = 0xff; // merchantId str8 length
      expect(decodeCard(c)).toBeNull();
    });
  });

  describe('properties (fast-check)', () => {
    const numRuns = name === 'node' ? 300 : 100;
    const original = valid.envelope;

    it('random strings never throw and are never accepted', () => {
      const alphabetText = fc
        .array(fc.constantFrom(...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:'), { maxLength: 600 })
        .map((cs) => `QP:${cs.join('')}`);
      fc.assert(
        fc.property(fc.oneof(fc.string({ maxLength: 1500 }), fc.string({ unit: 'binary', maxLength: 600 }), alphabetText), (s) => {
          expect(() => parseEnvelope(s)).not.toThrow();
          expect(() => cardFromText(s)).not.toThrow();
          expectDeclined(s);
        }),
        { numRuns },
      );
    });

    it('random bytes under the right version, suite and key id are never accepted', () => {
      const head = original.subarray(0, 10);
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), (tail) => {
          expectDeclined(envelopeFromBytes(Uint8Array.from([...head, ...tail])));
        }),
        { numRuns },
      );
    });

    type Mutation =
      | { op: 'flip'; at: number; mask: number }
      | { op: 'insert'; at: number; byte: number }
      | { op: 'delete'; at: number }
      | { op: 'truncate'; at: number };
    const mutation: fc.Arbitrary<Mutation> = fc.oneof(
      fc.record({ op: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
      fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
    );
    const apply = (b: Uint8Array, m: Mutation): Uint8Array => {
      const at = b.length === 0 ? 0 : m.at % (m.op === 'insert' ? b.length + 1 : b.length);
      switch (m.op) {
        case 'flip': {
          if (b.length === 0) return b;
          const out = b.slice();
          out[at]! ^= m.mask;
          return out;
        }
        case 'insert':
          return Uint8Array.from([...b.subarray(0, at), m.byte, ...b.subarray(at)]);
        case 'delete':
          return Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1)]);
        case 'truncate':
          return b.slice(0, at);
      }
    };

    it('mutations of a valid envelope (flips, insertions, deletions, truncations) are never accepted', () => {
      fc.assert(
        fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => {
          const mutated = ms.reduce(apply, original);
          fc.pre(!equalBytes(mutated, original));
          const text = envelopeFromBytes(mutated);
          expect(() => parseEnvelope(text)).not.toThrow();
          expectDeclined(text);
        }),
        { numRuns },
      );
    });

    it('binary decoders never throw on random bytes or mutations of valid items', () => {
      const items = [valid.card, valid.credential, valid.authorization, valid.debit, valid.nfcAnswer];
      const decoders = [decodeCard, decodeCredential, decodeAuthorization, decodeDebit, decodeNfcAnswer];
      fc.assert(
        fc.property(
          fc.oneof(
            fc.uint8Array({ maxLength: 700 }),
            fc.tuple(fc.constantFrom(...items), fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([b, ms]) => ms.reduce(apply, b)),
          ),
          (bytes) => {
            for (const decode of decoders) expect(() => decode(bytes)).not.toThrow();
            expect(() => cardFromText(`QC:${base45Encode(bytes)}`)).not.toThrow();
          },
        ),
        { numRuns: numRuns * 2 },
      );
    });
  });
});
