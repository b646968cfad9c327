/**
 * Every decline code the pure core can emit, reached by a test asserting the exact code, plus the
 * accept path (static and NFC) with its signed debit record. Runs on both crypto providers.
 */
import { describe, expect, it } from 'vitest';
import { issueCard, issueCredential } from '../../backend/lib/issue.ts';
import { type Decision, decide } from '../../device/core/decide.ts';
import { DECLINE, type DeclineCode } from '../../device/core/decline-codes.ts';
import { toHex } from '../../device/core/encoding/bytes.ts';
import { type AuthorizationBody, encodeAuthorization } from '../../device/core/protocol/authorization.ts';
import { cardHash } from '../../device/core/protocol/card.ts';
import { FLOW } from '../../device/core/protocol/constants.ts';
import { type Credential, signCredential } from '../../device/core/protocol/credential.ts';
import { debitIdOf, decodeDebit, verifyDebitSignature } from '../../device/core/protocol/debit.ts';
import { keyId } from '../../device/core/protocol/labels.ts';
import { DEFAULT_POLICY, type NfcSession } from '../../device/core/views.ts';
import { Wallet, WalletError } from '../../wallet/lib/wallet.ts';
import { craftCode, envelopeBytes, envelopeFromBytes, flipBit, sealPlaintext } from '../support/hostile.ts';
import { allProviders } from '../support/vectors.ts';
import { baseInput, makeWorld, memoryReplay, openNfcTap, seed, T0, T0_SEC } from '../support/world.ts';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe.each(allProviders())('decide: decline codes (%s)', (_name, p) => {
  const w = makeWorld(p);
  const A = w.shopA.cards[0]!;
  const walletSigner = p.ed25519Signer(seed(41));
  const reached = new Set<DeclineCode>();

  const run = (text: string, overrides: Parameters<typeof baseInput>[2] = {}): Decision => decide(p, baseInput(w, text, overrides));
  const expectDecline = (d: Decision, code: DeclineCode, detail?: RegExp): void => {
    expect(d.kind).toBe('decline');
    if (d.kind !== 'decline') return;
    expect(d.code, d.detail).toBe(code);
    if (detail) expect(d.detail).toMatch(detail);
    expect(d.detail, 'decide() must not reach its catch-all').not.toMatch(/^internal/);
    reached.add(d.code);
  };
  const staticCode = (amount = 12_50, opts: { timestampSec?: number } = {}) => {
    const wallet = w.wallet(1);
    return { wallet, walletKey: toHex(wallet.publicKey), ...wallet.pay(A, amount, opts) };
  };
  const body = (credential: Credential, over: Partial<AuthorizationBody> = {}): AuthorizationBody => ({
    flow: FLOW.static,
    cardSerial: A.serial,
    credential,
    amount: 12_50,
    currency: 'EUR',
    counter: 1,
    timestamp: T0_SEC,
    ...over,
  });
  const walletWith = (credential: Credential) => new Wallet(p, { seed: seed(41), counter: 0, credential }, { authorities: w.authorities, now: () => T0 });

  describe('accept path', () => {
    it('accepts a static code and signs a debit record that decodes and verifies', () => {
      const { text, walletKey, wallet } = staticCode();
      const d = run(text);
      expect(d.kind, d.kind === 'decline' ? `${d.code} ${d.detail}` : '').toBe('accept');
      if (d.kind !== 'accept') return;
      expect(d).toMatchObject({ walletKey, counter: 1, amount: 12_50, currency: 'EUR', chargeId: 'C-1', flow: 'static', cardSerial: A.serial });
      expect(d.sessionKeyId).toBeUndefined();
      expect(d.debitId).toBe(toHex(debitIdOf(p, wallet.publicKey, 1)));
      expect(d.acceptedAtMs).toBe(T0);
      expect(d.credentialExpiresAtMs).toBe(wallet.credential.notAfter * 1000);
      const rec = decodeDebit(d.record);
      expect(rec).not.toBeNull();
      if (!rec) return;
      expect(verifyDebitSignature(p, w.device[0]!.publicKey, rec)).toBe(true);
      expect(verifyDebitSignature(p, w.device[1]!.publicKey, rec)).toBe(false);
      expect(toHex(rec.debitId)).toBe(d.debitId);
      expect(toHex(rec.deviceKeyId)).toBe(toHex(keyId(p, w.device[0]!.publicKey)));
      expect(rec.chargeId).toBe('C-1');
      expect(rec.sessionPublicKey.length).toBe(0);
      expect(rec.revocationVersion).toBe(7);
      expect(rec.acceptedAt).toBe(T0_SEC);
      expect(rec.clockLower).toBe(T0_SEC);
      expect(rec.clockUpper).toBe(T0_SEC + 60);
      expect(rec.auth.amount).toBe(12_50);
      expect(rec.auth.currency).toBe('EUR');
      expect(rec.auth.counter).toBe(1);
      expect(toHex(rec.auth.credential.walletPublicKey)).toBe(walletKey);
      expect(toHex(rec.header)).toBe(toHex(envelopeHeader(text)));
    });

    it('accepts a fixed price with chargeId null and an empty chargeId in the record', () => {
      const d = run(staticCode(3_00).text, { amount: { kind: 'fixed', amount: 3_00, currency: 'EUR' } });
      expect(d).toMatchObject({ kind: 'accept', chargeId: null, amount: 3_00 });
      if (d.kind === 'accept') expect(decodeDebit(d.record)?.chargeId).toBe('');
    });

    it('accepts a hand-crafted code signed by the right wallet key (control for the crafted declines)', () => {
      const text = craftCode(p, { recipientPublicKey: A.encPublicKey, body: body(w.wallet(1).credential), signer: walletSigner, cardHash: cardHash(p, A) });
      expect(run(text).kind).toBe('accept');
    });

    it('accepts at the exact freshness, future-skew and offline-limit boundaries', () => {
      expect(run(staticCode(12_50, { timestampSec: T0_SEC - 600 }).text).kind).toBe('accept');
      expect(run(staticCode(12_50, { timestampSec: T0_SEC + 60 + 300 }).text).kind).toBe('accept');
      const { text, walletKey } = staticCode();
      const replay = memoryReplay();
      replay.add(walletKey, 77, 37_50);
      expect(run(text, { replay }).kind).toBe('accept');
    });
  });

  describe('MALFORMED and UNSUPPORTED_VERSION', () => {
    it('MALFORMED: bad prefix, bad base45, truncated, too long, empty', () => {
      const { text } = staticCode();
      expectDecline(run(`XP:${text.slice(3)}`), DECLINE.MALFORMED);
      expectDecline(run(text.slice(3)), DECLINE.MALFORMED);
      expectDecline(run(`QP:${text.slice(3, 30)}#${text.slice(31)}`), DECLINE.MALFORMED);
      expectDecline(run(text.toLowerCase()), DECLINE.MALFORMED);
      expectDecline(run(text.slice(0, -1)), DECLINE.MALFORMED);
      expectDecline(run(envelopeFromBytes(envelopeBytes(text).slice(0, 40))), DECLINE.MALFORMED);
      expectDecline(run(envelopeFromBytes(envelopeBytes(text).slice(0, 1))), DECLINE.MALFORMED);
      expectDecline(run(`QP:${'0'.repeat(1500)}`), DECLINE.MALFORMED);
      expectDecline(run(''), DECLINE.MALFORMED);
      expectDecline(run('QP:'), DECLINE.MALFORMED);
    });

    it('MALFORMED: plaintext that decrypts but does not parse', () => {
      expectDecline(run(sealPlaintext(p, A.encPublicKey, utf8('hello, box'))), DECLINE.MALFORMED);
      expectDecline(run(sealPlaintext(p, A.encPublicKey, new Uint8Array(0))), DECLINE.MALFORMED);
      const cred = w.wallet(1).credential;
      const valid = encodeAuthorization(body(cred), new Uint8Array(64));
      expectDecline(run(sealPlaintext(p, A.encPublicKey, Uint8Array.from([...valid, 0]))), DECLINE.MALFORMED);
      expectDecline(run(sealPlaintext(p, A.encPublicKey, valid.slice(0, -1))), DECLINE.MALFORMED);
      const badFlow = valid.slice();
      badFlow[0] = 3;
      expectDecline(run(sealPlaintext(p, A.encPublicKey, badFlow)), DECLINE.MALFORMED);
    });

    it('UNSUPPORTED_VERSION: version byte 2, suite byte 9', () => {
      const bytes = envelopeBytes(staticCode().text);
      const v2 = bytes.slice();
      v2[0] = 2;
      const s9 = bytes.slice();
      s9[1] = 9;
      expectDecline(run(envelopeFromBytes(v2)), DECLINE.UNSUPPORTED_VERSION);
      expectDecline(run(envelopeFromBytes(s9)), DECLINE.UNSUPPORTED_VERSION);
      expectDecline(run(envelopeFromBytes(Uint8Array.of(2, 1))), DECLINE.UNSUPPORTED_VERSION);
    });
  });

  describe('merchant binding and decryption', () => {
    it('WRONG_MERCHANT: a SHOP-B code scanned at SHOP-A', () => {
      const { text } = w.wallet(1).pay(w.shopB.cards[0]!, 12_50);
      expectDecline(run(text), DECLINE.WRONG_MERCHANT);
    });

    it('WRONG_MERCHANT: an unknown key id', () => {
      const text = craftCode(p, {
        recipientPublicKey: A.encPublicKey,
        kid: p.randomBytes(8),
        body: body(w.wallet(1).credential),
        signer: walletSigner,
        cardHash: cardHash(p, A),
      });
      expectDecline(run(text), DECLINE.WRONG_MERCHANT);
    });

    it('WRONG_MERCHANT: a card serial not in the roster, even with the right merchant key', () => {
      const rogue = issueCard(p, w.authority, {
        serial: 999,
        tillId: 9,
        merchantId: 'SHOP-A',
        displayName: 'SHOP-A rogue till',
        currency: 'EUR',
        encPublicKey: w.shopA.encKey.publicKey,
        devicePublicKey: w.device[0]!.publicKey,
        notBeforeSec: T0_SEC - 60,
        notAfterSec: T0_SEC + 86400,
      });
      const d = run(w.wallet(1).pay(rogue, 12_50).text);
      expectDecline(d, DECLINE.WRONG_MERCHANT);
      expect(d).toMatchObject({ counter: 1 });
    });

    it('WRONG_MERCHANT: the card and the key id disagree (current card, previous key)', () => {
      const text = craftCode(p, { recipientPublicKey: w.shopA.prevEncKey.publicKey, body: body(w.wallet(1).credential), signer: walletSigner, cardHash: cardHash(p, A) });
      expectDecline(run(text), DECLINE.WRONG_MERCHANT, /card and key id disagree/);
    });

    it('DECRYPT_FAILED: tampered ciphertext or enc under a valid key id', () => {
      const bytes = envelopeBytes(staticCode().text);
      expectDecline(run(envelopeFromBytes(flipBit(bytes, bytes.length * 8 - 1))), DECLINE.DECRYPT_FAILED);
      expectDecline(run(envelopeFromBytes(flipBit(bytes, 60 * 8))), DECLINE.DECRYPT_FAILED);
      expectDecline(run(envelopeFromBytes(flipBit(bytes, 10 * 8 + 3))), DECLINE.DECRYPT_FAILED); // enc
      expectDecline(run(envelopeFromBytes(bytes.slice(0, -1))), DECLINE.DECRYPT_FAILED);
    });
  });

  describe('credential', () => {
    it('UNKNOWN_ISSUER: a credential from an untrusted issuer key', () => {
      const wallet = w.wallet(1, { issuerSigner: p.ed25519Signer(seed(99)) });
      expectDecline(run(wallet.pay(A, 12_50).text), DECLINE.UNKNOWN_ISSUER);
    });

    it('BAD_CREDENTIAL: right issuer key id, wrong signing key', () => {
      const credential = signCredential(
        {
          issuerKeyId: keyId(p, w.issuer.publicKey),
          walletPublicKey: walletSigner.publicKey,
          accountToken: new Uint8Array(16).fill(1),
          method: 1,
          currency: 'EUR',
          offlineLimit: 50_00,
          notAfter: T0_SEC + 86400,
        },
        (m) => p.ed25519Signer(seed(99)).sign(m),
      );
      expectDecline(run(walletWith(credential).pay(A, 12_50).text), DECLINE.BAD_CREDENTIAL);
    });

    it('BAD_CREDENTIAL: a genuine credential with its offline limit raised after signing', () => {
      const genuine = issueCredential(p, w.issuer, {
        walletPublicKey: walletSigner.publicKey,
        accountToken: new Uint8Array(16).fill(1),
        currency: 'EUR',
        offlineLimit: 50_00,
        notAfterSec: T0_SEC + 86400,
      });
      const bytes = genuine.bytes.slice();
      bytes[3 + 8 + 32 + 16 + 1 + 3] = 0xff; // top byte of offlineLimit
      const forged = signCredential(
        { ...genuine, offlineLimit: genuine.offlineLimit + 0xff000000 },
        () => genuine.signature,
      );
      expect(toHex(forged.bytes)).toBe(toHex(bytes));
      expectDecline(run(walletWith(forged).pay(A, 12_50).text), DECLINE.BAD_CREDENTIAL);
    });

    it('CREDENTIAL_EXPIRED', () => {
      expectDecline(run(w.wallet(1, { notAfterSec: T0_SEC - 1 }).pay(A, 12_50).text), DECLINE.CREDENTIAL_EXPIRED);
    });

    it('REVOKED: the wallet key is on the revocation list', () => {
      const { text, walletKey } = staticCode();
      const d = run(text, { revocations: { version: 8, issuedAtMs: T0 - 60_000, isRevoked: (k) => k === walletKey } });
      expectDecline(d, DECLINE.REVOKED);
      expect(d).toMatchObject({ walletKey, counter: 1 });
    });

    it('REVOCATION_STALE: the revocation list is older than the policy allows', () => {
      const stale = { version: 7, issuedAtMs: T0 - DEFAULT_POLICY.revocationMaxAgeMs - 1, isRevoked: () => false };
      expectDecline(run(staticCode().text, { revocations: stale }), DECLINE.REVOCATION_STALE);
    });
  });

  describe('wallet signature and binding', () => {
    it('BAD_SIGNATURE: signed by another key than the credential wallet key', () => {
      const text = craftCode(p, { recipientPublicKey: A.encPublicKey, body: body(w.wallet(1).credential), signer: p.ed25519Signer(seed(42)), cardHash: cardHash(p, A) });
      expectDecline(run(text), DECLINE.BAD_SIGNATURE);
    });

    it('BAD_SIGNATURE: signed over another card hash, or the amount changed under the signature', () => {
      const cred = w.wallet(1).credential;
      const otherCard = craftCode(p, { recipientPublicKey: A.encPublicKey, body: body(cred), signer: walletSigner, cardHash: cardHash(p, w.shopA.cards[1]!) });
      expectDecline(run(otherCard), DECLINE.BAD_SIGNATURE);
      const tampered = craftCode(p, {
        recipientPublicKey: A.encPublicKey,
        body: body(cred, { amount: 1 }),
        signer: walletSigner,
        cardHash: cardHash(p, A),
        tamper: (b) => ({ ...b, amount: 12_50 }),
      });
      expectDecline(run(tampered), DECLINE.BAD_SIGNATURE);
    });

    it('CHALLENGE_MISMATCH: nfc flow sent to a merchant key (no session)', () => {
      const cred = w.wallet(1).credential;
      const nfcBody = body(cred, { flow: FLOW.nfc, nfc: { challenge: p.randomBytes(16), chargeId: 'C-1' } });
      const text = craftCode(p, { recipientPublicKey: A.encPublicKey, body: nfcBody, signer: walletSigner, cardHash: cardHash(p, A), signedSessionPublicKey: p.randomBytes(32) });
      expectDecline(run(text), DECLINE.CHALLENGE_MISMATCH, /without a session/);
    });

    it('CHALLENGE_MISMATCH: static flow sent to a session key', () => {
      const tap = openNfcTap(p, w);
      const text = craftCode(p, { recipientPublicKey: tap.session.sessionPublicKey, body: body(w.wallet(1).credential), signer: walletSigner, cardHash: cardHash(p, A) });
      expectDecline(run(text, { keys: w.keysOf(w.shopA, 0, [tap.session]) }), DECLINE.CHALLENGE_MISMATCH, /without nfc flow/);
    });

    it('CHALLENGE_MISMATCH: the signed challenge or charge differs from the session', () => {
      const wrongChallenge = openNfcTap(p, w, { answerChallenge: p.randomBytes(16) });
      const wrongCharge = openNfcTap(p, w, { answerChargeId: 'C-OTHER' });
      for (const tap of [wrongChallenge, wrongCharge]) {
        const wallet = w.wallet(1);
        const answer = wallet.verifyNfcAnswer(tap.answerBytes, tap.phoneNonce);
        const { text } = wallet.pay(tap.card, 12_50, { nfc: answer });
        expectDecline(run(text, { keys: w.keysOf(w.shopA, 0, [tap.session]) }), DECLINE.CHALLENGE_MISMATCH, /differs from the session/);
      }
    });

    it('CHALLENGE_REQUIRED: a static code at a box whose policy requires a challenge', () => {
      expectDecline(run(staticCode().text, { policy: { ...DEFAULT_POLICY, requireChallenge: true } }), DECLINE.CHALLENGE_REQUIRED);
    });
  });

  describe('NFC flow', () => {
    const nfcCode = (tap: ReturnType<typeof openNfcTap>, amount = 12_50) => {
      const wallet = w.wallet(1);
      const answer = wallet.verifyNfcAnswer(tap.answerBytes, tap.phoneNonce);
      return { wallet, ...wallet.pay(tap.card, amount, { nfc: answer }) };
    };

    it('accepts a code bound to its session, with sessionKeyId set and the session key in the record', () => {
      const tap = openNfcTap(p, w);
      const { text, wallet } = nfcCode(tap);
      const d = run(text, { keys: w.keysOf(w.shopA, 0, [tap.session]), policy: { ...DEFAULT_POLICY, requireChallenge: true } });
      expect(d.kind, d.kind === 'decline' ? `${d.code} ${d.detail}` : '').toBe('accept');
      if (d.kind !== 'accept') return;
      expect(d).toMatchObject({ flow: 'nfc', sessionKeyId: tap.session.keyIdHex, chargeId: 'C-1', amount: 12_50, counter: 1 });
      expect(d.debitId).toBe(toHex(debitIdOf(p, wallet.publicKey, 1)));
      const rec = decodeDebit(d.record);
      expect(rec && verifyDebitSignature(p, w.device[0]!.publicKey, rec)).toBe(true);
      expect(toHex(rec!.sessionPublicKey)).toBe(toHex(tap.session.sessionPublicKey));
      expect(toHex(rec!.auth.nfc!.challenge)).toBe(toHex(tap.session.challenge));
    });

    it('declines the same code in a different session', () => {
      const tap = openNfcTap(p, w);
      const { text } = nfcCode(tap);
      const other = openNfcTap(p, w);
      expectDecline(run(text, { keys: w.keysOf(w.shopA, 0, [other.session]) }), DECLINE.WRONG_MERCHANT);
      const sameKeyNewChallenge: NfcSession = { ...tap.session, challenge: p.randomBytes(16) };
      expectDecline(run(text, { keys: w.keysOf(w.shopA, 0, [sameKeyNewChallenge]) }), DECLINE.CHALLENGE_MISMATCH);
    });

    it('WRONG_MERCHANT: the session presents another card than the code names', () => {
      const tap = openNfcTap(p, w);
      const { text } = nfcCode(tap);
      const session: NfcSession = { ...tap.session, cardSerial: w.shopA.cards[1]!.serial };
      expectDecline(run(text, { keys: w.keysOf(w.shopA, 0, [session]) }), DECLINE.WRONG_MERCHANT, /session card differs/);
    });

    it('SESSION_EXPIRED: timed out by the clock, and recently closed', () => {
      const tap = openNfcTap(p, w, { expiresAtMs: T0 - 1 });
      const { text } = nfcCode(tap);
      expectDecline(run(text, { keys: w.keysOf(w.shopA, 0, [tap.session]) }), DECLINE.SESSION_EXPIRED, /timed out/);
      expectDecline(run(text, { keys: w.keysOf(w.shopA, 0, [], [tap.session.keyIdHex]) }), DECLINE.SESSION_EXPIRED, /closed/);
    });

    it('AMOUNT_MISMATCH: the POS charge changed after the tap', () => {
      const tap = openNfcTap(p, w);
      const { text } = nfcCode(tap);
      const amount = { kind: 'charge' as const, chargeId: 'C-2', amount: 12_50, currency: 'EUR' };
      expectDecline(run(text, { keys: w.keysOf(w.shopA, 0, [tap.session]), amount }), DECLINE.AMOUNT_MISMATCH, /changed after the tap/);
    });

    it('the wallet refuses a forged answer (wrong device key, wrong nonce) with NFC_ANSWER_FORGED', () => {
      const forged = openNfcTap(p, w, { answerSigner: w.device[2]! });
      const expectForged = (f: () => unknown) => {
        try {
          f();
          expect.unreachable('verifyNfcAnswer accepted a forged answer');
        } catch (e) {
          expect(e).toBeInstanceOf(WalletError);
          expect((e as WalletError).code).toBe('NFC_ANSWER_FORGED');
        }
      };
      expectForged(() => w.wallet(1).verifyNfcAnswer(forged.answerBytes, forged.phoneNonce));
      const genuine = openNfcTap(p, w);
      expectForged(() => w.wallet(1).verifyNfcAnswer(genuine.answerBytes, p.randomBytes(16)));
    });
  });

  describe('time, replay, amount', () => {
    it('STALE: too old, and from the future', () => {
      expectDecline(run(staticCode(12_50, { timestampSec: T0_SEC - 601 }).text), DECLINE.STALE);
      expectDecline(run(staticCode(12_50, { timestampSec: T0_SEC + 60 + 301 }).text), DECLINE.STALE);
    });

    it('REPLAYED: (wallet, counter) already in the replay view', () => {
      const { text, walletKey } = staticCode();
      const replay = memoryReplay();
      replay.add(walletKey, 1, 12_50);
      expectDecline(run(text, { replay }), DECLINE.REPLAYED);
    });

    it('NO_CHARGE: no pending charge', () => {
      expectDecline(run(staticCode().text, { amount: { kind: 'none' } }), DECLINE.NO_CHARGE);
    });

    it('AMOUNT_MISMATCH: signed amount differs from the charge', () => {
      expectDecline(run(staticCode(10_00).text), DECLINE.AMOUNT_MISMATCH);
      expectDecline(run(staticCode(12_51).text), DECLINE.AMOUNT_MISMATCH);
    });

    it('CURRENCY_MISMATCH: the box charges USD, or the code currency differs from the credential', () => {
      const usd = { kind: 'charge' as const, chargeId: 'C-1', amount: 12_50, currency: 'USD' };
      expectDecline(run(staticCode().text, { amount: usd }), DECLINE.CURRENCY_MISMATCH, /box charges USD/);
      const text = craftCode(p, { recipientPublicKey: A.encPublicKey, body: body(w.wallet(1).credential, { currency: 'USD' }), signer: walletSigner, cardHash: cardHash(p, A) });
      expectDecline(run(text, { amount: usd }), DECLINE.CURRENCY_MISMATCH, /credential currency/);
    });

    it('OVER_LIMIT: unsynced spend + amount above the offline limit', () => {
      const { text, walletKey } = staticCode();
      const replay = memoryReplay();
      replay.add(walletKey, 77, 37_51);
      expectDecline(run(text, { replay }), DECLINE.OVER_LIMIT);
      const small = w.wallet(1, { limit: 10_00 }).pay(A, 12_50).text;
      expectDecline(run(small), DECLINE.OVER_LIMIT);
    });
  });

  it('reached every decline code the core can emit (all but JOURNAL_FAULT)', () => {
    const emittable = Object.values(DECLINE).filter((c) => c !== DECLINE.JOURNAL_FAULT);
    expect([...reached].sort()).toEqual([...emittable].sort());
  });
});

function envelopeHeader(text: string): Uint8Array {
  return Uint8Array.from([...utf8('QP:'), ...envelopeBytes(text).slice(0, 42)]);
}
