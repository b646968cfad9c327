/**
 * Protocol v1 codecs: encode/decode round trips (card with and without location, credential,
 * authorization, NFC answer, debit record, envelope), the card text form, and size bounds of the
 * payment code text for the static and the NFC flow. Runs on both crypto providers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { issueCard, issueCredential } from '../../backend/lib/issue.ts';
import { base45Decode, base45Encode } from '../../device/core/encoding/base45.ts';
import { toHex } from '../../device/core/encoding/bytes.ts';
import { type AuthorizationBody, decodeAuthorization, encodeAuthorization } from '../../device/core/protocol/authorization.ts';
import { type CardBody, cardFromText, cardToText, decodeCard, encodeCardBody, type IdentityCard, verifyCard } from '../../device/core/protocol/card.ts';
import { CARD_PREFIX, FLOW, MAX_ENVELOPE_TEXT } from '../../device/core/protocol/constants.ts';
import { CREDENTIAL_LENGTH, decodeCredential, maskToken, verifyCredentialSignature } from '../../device/core/protocol/credential.ts';
import { type DebitBody, debitIdOf, decodeDebit, signDebit, verifyDebitSignature } from '../../device/core/protocol/debit.ts';
import { buildHeader, envelopeText, HEADER_LENGTH, parseEnvelope } from '../../device/core/protocol/envelope.ts';
import { keyId } from '../../device/core/protocol/labels.ts';
import { decodeNfcAnswer, signNfcAnswer, verifyNfcAnswerSignature } from '../../device/core/protocol/nfc-answer.ts';
import { allProviders } from '../support/vectors.ts';
import { makeWorld, openNfcTap, seed, T0_SEC } from '../support/world.ts';

/** QR alphanumeric mode characters: what the envelope and card text may contain. */
const QR_ALPHANUMERIC = /^[0-9A-Z $%*+\-./:]+$/;
/** The static-flow payment code must fit this many characters (QR size budget). */
const STATIC_TEXT_BOUND = 430;
/** The NFC-flow code with the longest charge id (32 characters). */
const NFC_TEXT_BOUND = 500;

const bodyOf = (c: IdentityCard): CardBody => {
  const { signature: _s, bytes: _b, signedBytes: _sb, ...body } = c;
  return body;
};

describe.each(allProviders())('protocol round trips (%s)', (_name, p) => {
  const w = makeWorld(p);
  const A = w.shopA.cards[0]!;
  const check = (c: IdentityCard) => verifyCard(p, c, w.authorities, toHex, { lowerSec: T0_SEC, upperSec: T0_SEC });
  const cardAt = (location?: { lat: number; lon: number }) =>
    issueCard(p, w.authority, {
      serial: 4242,
      tillId: 3,
      merchantId: 'KIOSK.7_B-2',
      displayName: 'Kiosk am Markt – Ümlaut 🥨',
      currency: 'JPY',
      currencyExponent: 0,
      encPublicKey: w.shopA.encKey.publicKey,
      devicePublicKey: w.device[0]!.publicKey,
      notBeforeSec: T0_SEC - 10,
      notAfterSec: T0_SEC + 10,
      ...(location ? { location } : {}),
    });

  describe('identity card', () => {
    it('round-trips a card with a location (binary and text form)', () => {
      const decoded = decodeCard(A.bytes);
      expect(decoded).not.toBeNull();
      expect(bodyOf(decoded!)).toEqual(bodyOf(A));
      expect(decoded!.location).toEqual({ lat: 52.52, lon: 13.405 });
      expect(toHex(decoded!.signature)).toBe(toHex(A.signature));
      expect(check(decoded!)).toBe('ok');
      const text = cardToText(A);
      expect(text.startsWith(CARD_PREFIX)).toBe(true);
      expect(text).toMatch(QR_ALPHANUMERIC);
      expect(toHex(cardFromText(text)!.bytes)).toBe(toHex(A.bytes));
      expect(toHex(encodeCardBody(bodyOf(A)))).toBe(toHex(A.signedBytes));
    });

    it('round-trips a card without a location, with a UTF-8 display name and exponent 0', () => {
      const c = cardAt();
      expect(c.location).toBeUndefined();
      const back = cardFromText(cardToText(c));
      expect(back).not.toBeNull();
      expect(bodyOf(back!)).toEqual(bodyOf(c));
      expect(back!.location).toBeUndefined();
      expect(back!.displayName).toBe('Kiosk am Markt – Ümlaut 🥨');
      expect(back!.currencyExponent).toBe(0);
      expect(check(back!)).toBe('ok');
      expect(c.bytes.length).toBe(cardAt({ lat: 0, lon: 0 }).bytes.length - 8);
    });

    it('keeps locations at 1e-7 degree precision, including the extremes and negative values', () => {
      for (const loc of [
        { lat: -33.8688197, lon: 151.2092955 },
        { lat: 90, lon: 180 },
        { lat: -90, lon: -180 },
        { lat: 0, lon: -0.0000001 },
      ]) {
        expect(cardFromText(cardToText(cardAt(loc)))!.location).toEqual(loc);
      }
      expect(cardAt({ lat: 48.123456789, lon: 11.5 }).location).toEqual({ lat: 48.1234568, lon: 11.5 });
    });

    it('a card whose signed bytes change no longer verifies', () => {
      const bytes = A.bytes.slice();
      bytes[5]! ^= 1; // serial
      const tampered = decodeCard(bytes);
      expect(tampered?.serial).toBe(A.serial ^ (1 << 16));
      expect(check(tampered!)).toBe('bad-signature');
    });
  });

  describe('credential and authorization', () => {
    const cred = issueCredential(p, w.issuer, {
      walletPublicKey: p.ed25519Signer(seed(41)).publicKey,
      accountToken: Uint8Array.from({ length: 16 }, (_, i) => i),
      method: 3,
      currency: 'EUR',
      offlineLimit: 0xffffffff,
      notAfterSec: 0xffffffff,
    });

    it('round-trips a credential', () => {
      expect(cred.bytes.length).toBe(CREDENTIAL_LENGTH);
      const back = decodeCredential(cred.bytes)!;
      expect(back).not.toBeNull();
      expect({ ...back, bytes: toHex(back.bytes), signedBytes: toHex(back.signedBytes) }).toEqual({
        ...cred,
        bytes: toHex(cred.bytes),
        signedBytes: toHex(cred.signedBytes),
      });
      expect(toHex(back.issuerKeyId)).toBe(toHex(keyId(p, w.issuer.publicKey)));
      expect(back.method).toBe(3);
      expect(back.offlineLimit).toBe(0xffffffff);
      expect(verifyCredentialSignature(p, w.issuer.publicKey, back)).toBe(true);
      expect(verifyCredentialSignature(p, w.authority.publicKey, back)).toBe(false);
      expect(maskToken(back.accountToken)).toBe('…0e0f');
    });

    it('round-trips static and nfc authorizations', () => {
      const sig = p.randomBytes(64);
      const base: AuthorizationBody = { flow: FLOW.static, cardSerial: 0xfffffffe, credential: cred, amount: 1, currency: 'EUR', counter: 0xffffffff, timestamp: T0_SEC };
      const nfc: AuthorizationBody = { ...base, flow: FLOW.nfc, nfc: { challenge: p.randomBytes(16), chargeId: 'X'.repeat(32) } };
      for (const body of [base, nfc]) {
        const bytes = encodeAuthorization(body, sig);
        const back = decodeAuthorization(bytes)!;
        expect(back).not.toBeNull();
        expect(back).toMatchObject({ flow: body.flow, cardSerial: body.cardSerial, amount: 1, currency: 'EUR', counter: 0xffffffff, timestamp: T0_SEC });
        expect(toHex(back.credential.bytes)).toBe(toHex(cred.bytes));
        expect(toHex(back.walletSignature)).toBe(toHex(sig));
        expect(back.nfc && { challenge: toHex(back.nfc.challenge), chargeId: back.nfc.chargeId }).toEqual(
          body.nfc && { challenge: toHex(body.nfc.challenge), chargeId: body.nfc.chargeId },
        );
      }
      expect(() => encodeAuthorization({ ...nfc, nfc: { challenge: p.randomBytes(16), chargeId: 'has space' } }, sig)).toThrow(RangeError);
    });
  });

  describe('NFC answer and debit record', () => {
    it('round-trips an NFC answer and checks its signature over the phone nonce', () => {
      const tap = openNfcTap(p, w, { chargeId: 'POS-2026-11-25/0001', amount: 99_99 });
      const back = decodeNfcAnswer(tap.answerBytes)!;
      expect(back).not.toBeNull();
      expect(toHex(back.card.bytes)).toBe(toHex(A.bytes));
      expect(toHex(back.challenge)).toBe(toHex(tap.session.challenge));
      expect(toHex(back.sessionPublicKey)).toBe(toHex(tap.session.sessionPublicKey));
      expect(back).toMatchObject({ chargeId: 'POS-2026-11-25/0001', amount: 99_99, currency: 'EUR', ttlSeconds: 30 });
      expect(verifyNfcAnswerSignature(p, back, tap.phoneNonce)).toBe(true);
      expect(verifyNfcAnswerSignature(p, back, p.randomBytes(16))).toBe(false);
      expect(() => signNfcAnswer(back, new Uint8Array(15), w.device[0]!)).toThrow(RangeError);
    });

    it('round-trips debit records with and without a session key and charge id', () => {
      const { text } = w.wallet(1).pay(A, 12_50);
      const env = parseEnvelope(text);
      if (!env.ok) throw new Error('parseEnvelope failed on a wallet code');
      const auth = encodeAuthorization(
        { flow: FLOW.static, cardSerial: A.serial, credential: w.wallet(1).credential, amount: 12_50, currency: 'EUR', counter: 9, timestamp: T0_SEC },
        p.randomBytes(64),
      );
      const body: DebitBody = {
        debitId: debitIdOf(p, w.wallet(1).publicKey, 9),
        deviceKeyId: keyId(p, w.device[1]!.publicKey),
        acceptedAt: T0_SEC,
        clockLower: T0_SEC - 5,
        clockUpper: 0xffffffff,
        revocationVersion: 123456,
        chargeId: 'C-77',
        sessionPublicKey: p.randomBytes(32),
        header: env.envelope.header,
        authorization: auth,
      };
      for (const b of [body, { ...body, chargeId: '', sessionPublicKey: new Uint8Array(0) }]) {
        const back = decodeDebit(signDebit(b, w.device[1]!))!;
        expect(back).not.toBeNull();
        for (const k of ['debitId', 'deviceKeyId', 'sessionPublicKey', 'header', 'authorization'] as const) expect(toHex(back[k])).toBe(toHex(b[k]));
        expect(back).toMatchObject({ acceptedAt: b.acceptedAt, clockLower: b.clockLower, clockUpper: b.clockUpper, revocationVersion: 123456, chargeId: b.chargeId });
        expect(back.auth.counter).toBe(9);
        expect(verifyDebitSignature(p, w.device[1]!.publicKey, back)).toBe(true);
        expect(verifyDebitSignature(p, w.device[0]!.publicKey, back)).toBe(false);
      }
      expect(toHex(debitIdOf(p, w.wallet(1).publicKey, 9))).not.toBe(toHex(debitIdOf(p, w.wallet(1).publicKey, 10)));
      expect(debitIdOf(p, w.wallet(1).publicKey, 9).length).toBe(16);
    });
  });

  describe('envelope and sizes', () => {
    it('parses a wallet code into header and ciphertext and re-encodes it to the same text', () => {
      const { text } = w.wallet(1).pay(A, 12_50);
      const env = parseEnvelope(text);
      if (!env.ok) throw new Error(env.detail);
      const e = env.envelope;
      expect(e).toMatchObject({ version: 1, suite: 1 });
      expect(e.header.length).toBe(HEADER_LENGTH);
      expect(toHex(e.keyId)).toBe(toHex(A.encKeyId));
      expect(toHex(buildHeader(e.keyId, e.enc))).toBe(toHex(e.header));
      expect(envelopeText(e.header, e.ciphertext)).toBe(text);
    });

    it('base45 round-trips arbitrary bytes', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
          const t = base45Encode(b);
          expect(t.length === 0 || QR_ALPHANUMERIC.test(t)).toBe(true);
          expect(toHex(base45Decode(t)!)).toBe(toHex(b));
        }),
        { numRuns: 200 },
      );
    });

    it(`payment code text sizes: static <= ${STATIC_TEXT_BOUND}, NFC (32-char charge id) <= ${NFC_TEXT_BOUND} chars`, () => {
      const staticText = w.wallet(1).pay(A, 0xffffffff).text;
      const wallet = w.wallet(1);
      const short = openNfcTap(p, w, { chargeId: 'C-1' });
      const long = openNfcTap(p, w, { chargeId: 'C'.repeat(32) });
      const nfcShort = wallet.pay(short.card, 12_50, { nfc: wallet.verifyNfcAnswer(short.answerBytes, short.phoneNonce) }).text;
      const nfcLong = wallet.pay(long.card, 12_50, { nfc: wallet.verifyNfcAnswer(long.answerBytes, long.phoneNonce) }).text;
      const card = cardToText(A);
      console.info(
        `[sizes] static code ${staticText.length} chars; NFC code ${nfcShort.length} (charge id "C-1"), ${nfcLong.length} (32-char charge id); card text ${card.length} chars (with location)`,
      );
      for (const t of [staticText, nfcShort, nfcLong]) expect(t).toMatch(QR_ALPHANUMERIC);
      // 3 + Base45(2 + 8 + 32 + authorization 219 + tag 16 = 277 bytes) = 3 + 138 * 3 + 2.
      expect(staticText.length).toBe(419);
      expect(staticText.length).toBeLessThanOrEqual(STATIC_TEXT_BOUND);
      expect(nfcShort.length).toBeLessThanOrEqual(nfcLong.length);
      expect(nfcLong.length).toBeLessThanOrEqual(NFC_TEXT_BOUND);
      expect(nfcLong.length).toBeLessThanOrEqual(MAX_ENVELOPE_TEXT);
    });
  });
});
