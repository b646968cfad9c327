/**
 * Security properties of decide(), each its own test, on both crypto providers: merchant binding,
 * integrity of every envelope bit, amount integrity even against a holder of the merchant key,
 * key-independent replay protection, the multi-till rule, credentials, NFC session binding.
 */
import { describe, expect, it } from 'vitest';
import { issueCredential } from '../../backend/lib/issue.ts';
import { setupBaseReceiver } from '../../device/core/crypto/hpke.ts';
import { type Decision, decide } from '../../device/core/decide.ts';
import { DECLINE, type DeclineCode } from '../../device/core/decline-codes.ts';
import { toHex } from '../../device/core/encoding/bytes.ts';
import { decodeAuthorization, encodeAuthorization } from '../../device/core/protocol/authorization.ts';
import { cardHash } from '../../device/core/protocol/card.ts';
import { signCredential } from '../../device/core/protocol/credential.ts';
import { decodeDebit, verifyDebitSignature } from '../../device/core/protocol/debit.ts';
import { envelopeInfo, envelopeText, parseEnvelope } from '../../device/core/protocol/envelope.ts';
import { keyId } from '../../device/core/protocol/labels.ts';
import type { RosterEntry } from '../../device/core/views.ts';
import { Wallet } from '../../wallet/lib/wallet.ts';
import { craftCode, envelopeBytes, envelopeFromBytes, flipBit, sealPlaintext } from '../support/hostile.ts';
import { allProviders } from '../support/vectors.ts';
import { baseInput, makeWorld, memoryReplay, openNfcTap, seed, T0, T0_SEC } from '../support/world.ts';

describe.each(allProviders())('decide: security properties (%s)', (name, p) => {
  const w = makeWorld(p);
  const A = w.shopA.cards[0]!;
  const A2 = w.shopA.cards[1]!;
  const run = (text: string, overrides: Parameters<typeof baseInput>[2] = {}): Decision => decide(p, baseInput(w, text, overrides));
  const codeOf = (d: Decision): DeclineCode | 'accept' => (d.kind === 'accept' ? 'accept' : d.code);
  /** Records an accepted debit in the replay view the way the box's journal does. */
  const commit = (replay: ReturnType<typeof memoryReplay>, d: Decision): void => {
    expect(d.kind, d.kind === 'decline' ? `${d.code}: ${d.detail}` : '').toBe('accept');
    if (d.kind === 'accept') replay.add(d.walletKey, d.counter, d.amount);
  };

  describe('merchant binding', () => {
    it("merchant B's box declines a code for merchant A: B lacks A's key", () => {
      const { text } = w.wallet(1).pay(A, 12_50);
      expect(codeOf(run(text, { keys: w.keysOf(w.shopB, 0) }))).toBe(DECLINE.WRONG_MERCHANT);
    });

    it("still declines when B's roster holds A's card", () => {
      const { text } = w.wallet(1).pay(A, 12_50);
      const keysB = w.keysOf(w.shopB, 0);
      const roster = new Map<number, RosterEntry>(keysB.roster);
      roster.set(A.serial, { card: A, hash: cardHash(p, A) });
      const d = run(text, { keys: { ...keysB, roster } });
      expect(d.kind).toBe('decline');
      expect(codeOf(d)).toBe(DECLINE.WRONG_MERCHANT);
    });

    it("declines a code encrypted to B's key that names A's card, even with A's card in B's roster", () => {
      const keysB = w.keysOf(w.shopB, 0);
      const roster = new Map<number, RosterEntry>(keysB.roster);
      roster.set(A.serial, { card: A, hash: cardHash(p, A) });
      const text = craftCode(p, {
        recipientPublicKey: w.shopB.encKey.publicKey,
        body: { flow: 1, cardSerial: A.serial, credential: w.wallet(1).credential, amount: 12_50, currency: 'EUR', counter: 1, timestamp: T0_SEC },
        signer: p.ed25519Signer(seed(41)),
        cardHash: cardHash(p, A),
      });
      expect(codeOf(run(text, { keys: { ...keysB, roster } }))).toBe(DECLINE.WRONG_MERCHANT);
    });
  });

  describe('integrity', () => {
    const { text } = w.wallet(1).pay(A, 12_50);
    const bytes = envelopeBytes(text);
    /** The code a flip at `bit` must give: version/suite, key id, or decryption (enc and ciphertext). */
    const expectedFor = (bit: number): DeclineCode =>
      bit < 16 ? DECLINE.UNSUPPORTED_VERSION : bit < 80 ? DECLINE.WRONG_MERCHANT : DECLINE.DECRYPT_FAILED;
    const allBits = Array.from({ length: bytes.length * 8 }, (_, i) => i);
    // noble is slower: every bit of version, suite and key id, and a spread sample of enc and ciphertext.
    const bits = name === 'node' ? allBits : allBits.filter((b) => b < 80 || b % 7 === 0);

    it(`any single flipped bit of the envelope is declined (${name === 'node' ? 'every' : 'a sample of'} ${bits.length} of ${allBits.length} bits)`, () => {
      expect(run(text).kind).toBe('accept');
      const wrong: string[] = [];
      for (const bit of bits) {
        const d = run(envelopeFromBytes(flipBit(bytes, bit)));
        if (codeOf(d) !== expectedFor(bit)) wrong.push(`bit ${bit}: ${codeOf(d)}`);
      }
      expect(wrong).toEqual([]);
    });

    it('the amount cannot be changed by re-encrypting a modified plaintext to the merchant key', () => {
      const env = parseEnvelope(text);
      if (!env.ok) throw new Error('parseEnvelope failed on a wallet code');
      const ctx = setupBaseReceiver(p, w.shopA.encKey, env.envelope.enc, envelopeInfo(env.envelope.keyId));
      const plain = ctx?.open(env.envelope.header, env.envelope.ciphertext);
      const a = plain ? decodeAuthorization(plain) : null;
      if (!ctx || !a) throw new Error('the test could not open its own code');
      const cheaper = encodeAuthorization({ ...a, amount: 1_00 }, a.walletSignature);
      const cheap = { kind: 'charge' as const, chargeId: 'C-1', amount: 1_00, currency: 'EUR' };
      // A fresh envelope (new enc, so a new header) with the changed amount.
      expect(codeOf(run(sealPlaintext(p, A.encPublicKey, cheaper), { amount: cheap }))).toBe(DECLINE.BAD_SIGNATURE);
      // The original header kept: a holder of the merchant key reseals under the same HPKE key and nonce.
      const resealed = envelopeText(env.envelope.header, p.aeadSeal(ctx.schedule.key, ctx.schedule.baseNonce, env.envelope.header, cheaper));
      expect(codeOf(run(resealed, { amount: cheap }))).toBe(DECLINE.BAD_SIGNATURE);
      // Control: resealing the unmodified plaintext the same way is the original code.
      const same = envelopeText(env.envelope.header, p.aeadSeal(ctx.schedule.key, ctx.schedule.baseNonce, env.envelope.header, plain!));
      expect(same).toBe(text);
      // The unmodified plaintext in a fresh envelope: the signature covers the header.
      expect(codeOf(run(sealPlaintext(p, A.encPublicKey, plain!)))).toBe(DECLINE.BAD_SIGNATURE);
    });
  });

  describe('replay', () => {
    it('the same code is declined the second time', () => {
      const { text } = w.wallet(1).pay(A, 12_50);
      const replay = memoryReplay();
      commit(replay, run(text, { replay }));
      expect(codeOf(run(text, { replay }))).toBe(DECLINE.REPLAYED);
    });

    it('the replay index is key-independent: a previous-key code with the same (wallet, counter) is declined', () => {
      const onCurrent = w.wallet(1).pay(A, 12_50);
      const onPrevious = w.wallet(1).pay(w.shopA.prevCard, 12_50);
      expect(onPrevious.counter).toBe(onCurrent.counter);
      expect(codeOf(run(onPrevious.text))).toBe('accept'); // the previous key still works during rotation
      const replay = memoryReplay();
      commit(replay, run(onCurrent.text, { replay }));
      expect(codeOf(run(onPrevious.text, { replay }))).toBe(DECLINE.REPLAYED);
      const other = memoryReplay();
      commit(other, run(onPrevious.text, { replay: other }));
      expect(codeOf(run(onCurrent.text, { replay: other }))).toBe(DECLINE.REPLAYED);
    });

    it('multi-till: a code for till 1 is accepted at till 2, but a shared replay view declines its second use', () => {
      const { text } = w.wallet(1).pay(A, 12_50);
      const atTill2 = run(text, { keys: w.keysOf(w.shopA, 1) });
      expect(codeOf(atTill2)).toBe('accept');
      if (atTill2.kind === 'accept') {
        const rec = decodeDebit(atTill2.record);
        expect(rec && verifyDebitSignature(p, w.device[1]!.publicKey, rec)).toBe(true);
        expect(atTill2.cardSerial).toBe(A.serial);
      }
      expect(codeOf(run(w.wallet(2).pay(A2, 12_50).text, { keys: w.keysOf(w.shopA, 0) }))).toBe('accept');
      const shared = memoryReplay();
      commit(shared, run(text, { keys: w.keysOf(w.shopA, 0), replay: shared }));
      expect(codeOf(run(text, { keys: w.keysOf(w.shopA, 1), replay: shared }))).toBe(DECLINE.REPLAYED);
    });
  });

  describe('credentials', () => {
    const walletPublicKey = p.ed25519Signer(seed(41)).publicKey;
    const walletWith = (credential: ReturnType<typeof issueCredential>) =>
      new Wallet(p, { seed: seed(41), counter: 0, credential }, { authorities: w.authorities, now: () => T0 });

    it('a forged credential is declined (self-signed under the real issuer key id)', () => {
      const forged = signCredential(
        {
          issuerKeyId: keyId(p, w.issuer.publicKey),
          walletPublicKey,
          accountToken: new Uint8Array(16).fill(7),
          method: 1,
          currency: 'EUR',
          offlineLimit: 0xffffffff,
          notAfter: T0_SEC + 86400,
        },
        (m) => p.ed25519Signer(seed(41)).sign(m),
      );
      expect(codeOf(run(walletWith(forged).pay(A, 12_50).text))).toBe(DECLINE.BAD_CREDENTIAL);
    });

    it('a credential from another issuer is declined', () => {
      expect(codeOf(run(w.wallet(1, { issuerSigner: p.ed25519Signer(seed(98)) }).pay(A, 12_50).text))).toBe(DECLINE.UNKNOWN_ISSUER);
    });

    it('an expired credential is declined, one that expires later today is accepted', () => {
      expect(codeOf(run(w.wallet(1, { notAfterSec: T0_SEC - 1 }).pay(A, 12_50).text))).toBe(DECLINE.CREDENTIAL_EXPIRED);
      expect(codeOf(run(w.wallet(1, { notAfterSec: T0_SEC + 1 }).pay(A, 12_50).text))).toBe('accept');
    });

    it("another wallet's credential cannot be used with my key", () => {
      const victim = issueCredential(p, w.issuer, {
        walletPublicKey: p.ed25519Signer(seed(43)).publicKey,
        accountToken: new Uint8Array(16).fill(3),
        currency: 'EUR',
        offlineLimit: 50_00,
        notAfterSec: T0_SEC + 86400,
      });
      const text = craftCode(p, {
        recipientPublicKey: A.encPublicKey,
        body: { flow: 1, cardSerial: A.serial, credential: victim, amount: 12_50, currency: 'EUR', counter: 1, timestamp: T0_SEC },
        signer: p.ed25519Signer(seed(41)),
        cardHash: cardHash(p, A),
      });
      expect(codeOf(run(text))).toBe(DECLINE.BAD_SIGNATURE);
    });
  });

  describe('NFC session binding', () => {
    const tapAndPay = () => {
      const tap = openNfcTap(p, w);
      const wallet = w.wallet(1);
      const { text } = wallet.pay(tap.card, 12_50, { nfc: wallet.verifyNfcAnswer(tap.answerBytes, tap.phoneNonce) });
      return { tap, text };
    };

    it('a code bound to one NFC session is declined in another session', () => {
      const { tap, text } = tapAndPay();
      expect(codeOf(run(text, { keys: w.keysOf(w.shopA, 0, [tap.session]) }))).toBe('accept');
      const other = openNfcTap(p, w);
      expect(run(text, { keys: w.keysOf(w.shopA, 0, [other.session]) }).kind).toBe('decline');
      expect(codeOf(run(text, { keys: w.keysOf(w.shopA, 0, [{ ...tap.session, challenge: other.session.challenge }]) }))).toBe(
        DECLINE.CHALLENGE_MISMATCH,
      );
    });

    it('an NFC code is declined at the sibling till, which does not hold the session', () => {
      const { text } = tapAndPay();
      expect(codeOf(run(text, { keys: w.keysOf(w.shopA, 1) }))).toBe(DECLINE.WRONG_MERCHANT);
    });

    it('an NFC code is declined once its session is closed, and reuse in the live session is a replay', () => {
      const { tap, text } = tapAndPay();
      const replay = memoryReplay();
      commit(replay, run(text, { keys: w.keysOf(w.shopA, 0, [tap.session]), replay }));
      expect(codeOf(run(text, { keys: w.keysOf(w.shopA, 0, [], [tap.session.keyIdHex]), replay }))).toBe(DECLINE.SESSION_EXPIRED);
      expect(codeOf(run(text, { keys: w.keysOf(w.shopA, 0, [tap.session]), replay }))).toBe(DECLINE.REPLAYED);
    });

    it('an NFC code carries its session key in the debit record', () => {
      const { tap, text } = tapAndPay();
      const d = run(text, { keys: w.keysOf(w.shopA, 0, [tap.session]) });
      expect(d.kind === 'accept' && toHex(decodeDebit(d.record)!.sessionPublicKey)).toBe(toHex(tap.session.sessionPublicKey));
    });
  });
});
