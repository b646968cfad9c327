/**
 * docs/vectors/qrpay-v1.json: the committed file must be exactly what the generator produces, and
 * every case must reach its recorded decision on BOTH crypto providers, with the decision input
 * rebuilt from the JSON alone (what a wallet team or an acquirer would do).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hpkeOpen } from '../../device/core/crypto/hpke.ts';
import { nobleProvider } from '../../device/core/crypto/noble.ts';
import type { CryptoProvider } from '../../device/core/crypto/provider.ts';
import { decide } from '../../device/core/decide.ts';
import { fromHex, toHex } from '../../device/core/encoding/bytes.ts';
import { cardFromText, verifyCard } from '../../device/core/protocol/card.ts';
import { Reader } from '../../device/core/protocol/codec.ts';
import { LABEL } from '../../device/core/protocol/constants.ts';
import { decodeCredential, verifyCredentialSignature } from '../../device/core/protocol/credential.ts';
import { decodeDebit, verifyDebitSignature } from '../../device/core/protocol/debit.ts';
import { parseEnvelope } from '../../device/core/protocol/envelope.ts';
import { keyId, labeled } from '../../device/core/protocol/labels.ts';
import { unwrapMerchantKey } from '../../device/core/protocol/merchant-key.ts';
import { decodeNfcAnswer, verifyNfcAnswerSignature } from '../../device/core/protocol/nfc-answer.ts';
import type { AmountSource, NfcSession, Policy, RosterEntry } from '../../device/core/views.ts';
import { createNodeProvider } from '../../device/crypto/node-provider.ts';
import { buildVectors, renderVectors, VECTOR_FILE } from '../../wallet/cli/gen-vectors.ts';
import { createHceResponder } from '../../wallet/lib/nfc-hce.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const committed = readFileSync(path.join(repoRoot, VECTOR_FILE), 'utf8');

interface KeyV {
  seed: string;
  publicKey: string;
  keyId: string;
}
interface CaseV {
  name: string;
  box: { merchantId: string; tillId: number; cardSerial: number };
  payment?: { plaintext: string; signedContent: string; walletSignature: string; header: string; hpke: { recipientKeyId: string; info: string } };
  nfc?: {
    sessionSecret: string;
    sessionPublicKey: string;
    sessionKeyId: string;
    challenge: string;
    chargeId: string;
    amount: number;
    currency: string;
    expiresAtMs: number;
    phoneNonce: string;
    answer: string;
    apdus: { command: string; response: string }[];
  };
  scannedText: string;
  context: {
    amountSource: AmountSource;
    replay: { seen: { walletKey: string; counter: number }[]; unsyncedSpend: number };
    revocations: { version: number; issuedAtMs: number; revoked: string[] };
    clock: { lowerMs: number; upperMs: number };
    policy: Policy;
  };
  expected: { decision: 'accept'; debitId: string; record: string } | { decision: 'decline'; code: string };
}
interface FileV {
  protocol: string;
  time: { t0Ms: number; t0Sec: number };
  keys: {
    authority: KeyV;
    issuer: KeyV;
    wallet: KeyV & { credential: { bytes: string } };
    merchants: { merchantId: string; encSecret: string; encPublicKey: string; encKeyId: string; tills: { tillId: number; device: KeyV; card: { bytes: string; text: string; cardHash: string } }[] }[];
  };
  merchantKeyPackage: { merchantId: string; boxIdentitySecret: string; merchantKeyId: string; package: string };
  cases: CaseV[];
  batch: { deviceKeyId: string; batchSeq: number; count: number; bytes: string };
}

const file = JSON.parse(committed) as FileV;
const providers: Array<[string, CryptoProvider]> = [
  ['noble', nobleProvider],
  ['node', createNodeProvider()],
];

describe('generated vectors: reproducibility', () => {
  it('the committed file is byte for byte what the generator produces (noble)', () => {
    expect(renderVectors(buildVectors(nobleProvider))).toBe(committed);
  });
  it('the node provider generates the identical file (deterministic signatures and HPKE)', () => {
    expect(renderVectors(buildVectors(createNodeProvider()))).toBe(committed);
  });
  it('covers accepts and the documented declines', () => {
    expect(file.protocol).toBe('QRPay protocol v1');
    const outcomes = file.cases.map((c) => (c.expected.decision === 'accept' ? 'accept' : c.expected.code));
    expect(outcomes).toEqual([
      'accept',
      'accept',
      'accept',
      'WRONG_MERCHANT',
      'AMOUNT_MISMATCH',
      'DECRYPT_FAILED',
      'REPLAYED',
      'STALE',
      'OVER_LIMIT',
      'REVOCATION_STALE',
      'CHALLENGE_REQUIRED',
    ]);
  });
});

describe.each(providers)('generated vectors replayed from the JSON (%s)', (_name, p) => {
  const k = file.keys;
  const merchant = k.merchants.find((m) => m.merchantId === 'SHOP-A')!;
  const encKey = p.x25519PrivateKey(fromHex(merchant.encSecret));
  const roster = new Map<number, RosterEntry>();
  for (const t of merchant.tills) {
    const card = cardFromText(t.card.text)!;
    roster.set(card.serial, { card, hash: p.sha256(card.bytes) });
  }

  it('keys, key ids, cards and the credential are consistent', () => {
    for (const key of [k.authority, k.issuer, k.wallet, ...k.merchants.flatMap((m) => m.tills.map((t) => t.device))]) {
      const s = p.ed25519Signer(fromHex(key.seed));
      expect(toHex(s.publicKey)).toBe(key.publicKey);
      expect(toHex(keyId(p, s.publicKey))).toBe(key.keyId);
    }
    expect(toHex(encKey.publicKey)).toBe(merchant.encPublicKey);
    expect(toHex(keyId(p, encKey.publicKey))).toBe(merchant.encKeyId);
    const authorities = new Map([[k.authority.keyId, fromHex(k.authority.publicKey)]]);
    for (const m of k.merchants) {
      for (const t of m.tills) {
        const card = cardFromText(t.card.text)!;
        expect(toHex(card.bytes)).toBe(t.card.bytes);
        expect(toHex(p.sha256(card.bytes))).toBe(t.card.cardHash);
        expect(toHex(card.encKeyId)).toBe(m.encKeyId);
        expect(toHex(card.devicePublicKey)).toBe(t.device.publicKey);
        expect(verifyCard(p, card, authorities, toHex, { lowerSec: file.time.t0Sec, upperSec: file.time.t0Sec + 60 })).toBe('ok');
      }
    }
    const cred = decodeCredential(fromHex(k.wallet.credential.bytes))!;
    expect(verifyCredentialSignature(p, fromHex(k.issuer.publicKey), cred)).toBe(true);
    expect(toHex(cred.walletPublicKey)).toBe(k.wallet.publicKey);
  });

  it('the merchant key package opens with the box identity key to the merchant key', () => {
    const pkg = file.merchantKeyPackage;
    const identity = p.x25519PrivateKey(fromHex(pkg.boxIdentitySecret));
    const key = unwrapMerchantKey(p, identity, pkg.merchantId, fromHex(pkg.merchantKeyId), fromHex(pkg.package));
    expect(key && toHex(key.publicKey)).toBe(merchant.encPublicKey);
  });

  it.each(file.cases.map((c) => [c.name, c] as const))('%s reaches the recorded decision', (_n, c) => {
    const till = merchant.tills.find((t) => t.tillId === c.box.tillId)!;
    const device = p.ed25519Signer(fromHex(till.device.seed));
    let session: NfcSession | undefined;
    if (c.nfc) {
      const key = p.x25519PrivateKey(fromHex(c.nfc.sessionSecret));
      session = {
        keyIdHex: c.nfc.sessionKeyId,
        key,
        sessionPublicKey: key.publicKey,
        challenge: fromHex(c.nfc.challenge),
        chargeId: c.nfc.chargeId,
        amount: c.nfc.amount,
        currency: c.nfc.currency,
        cardSerial: c.box.cardSerial,
        expiresAtMs: c.nfc.expiresAtMs,
      };
    }
    const ctx = c.context;
    const seen = new Set(ctx.replay.seen.map((s) => `${s.walletKey}/${s.counter}`));
    const d = decide(p, {
      text: c.scannedText,
      keys: {
        decryptionKeys: new Map([[merchant.encKeyId, encKey]]),
        roster,
        device,
        deviceKeyId: fromHex(till.device.keyId),
        sessions: { get: (id) => (session?.keyIdHex === id ? session : undefined), recentlyClosed: () => false },
      },
      issuers: { get: (id) => (id === k.issuer.keyId ? fromHex(k.issuer.publicKey) : undefined) },
      revocations: { version: ctx.revocations.version, issuedAtMs: ctx.revocations.issuedAtMs, isRevoked: (w) => ctx.revocations.revoked.includes(w) },
      replay: { has: (w, n) => seen.has(`${w}/${n}`), unsyncedSpend: () => ctx.replay.unsyncedSpend },
      amount: ctx.amountSource,
      clock: ctx.clock,
      policy: ctx.policy,
    });
    if (c.expected.decision === 'decline') {
      expect(d.kind === 'decline' ? d.code : 'accept').toBe(c.expected.code);
      return;
    }
    expect(d.kind === 'accept' ? d.debitId : d.code).toBe(c.expected.debitId);
    if (d.kind !== 'accept') return;
    expect(toHex(d.record)).toBe(c.expected.record);
    const rec = decodeDebit(d.record)!;
    expect(verifyDebitSignature(p, device.publicKey, rec)).toBe(true);
    expect(toHex(rec.authorization)).toBe(c.payment!.plaintext);
  });

  it.each(file.cases.filter((c) => c.payment).map((c) => [c.name, c] as const))('%s: the plaintext and the wallet signature check out', (_n, c) => {
    const pay = c.payment!;
    const env = parseEnvelope(c.scannedText);
    if (!env.ok) throw new Error(env.detail);
    expect(toHex(env.envelope.header)).toBe(pay.header);
    const recipient = c.nfc ? p.x25519PrivateKey(fromHex(c.nfc.sessionSecret)) : c.expected.decision === 'decline' && c.expected.code === 'WRONG_MERCHANT'
      ? p.x25519PrivateKey(fromHex(k.merchants.find((m) => m.merchantId === 'SHOP-B')!.encSecret))
      : encKey;
    const plaintext = hpkeOpen(p, recipient, env.envelope.enc, fromHex(pay.hpke.info), env.envelope.header, env.envelope.ciphertext);
    expect(plaintext && toHex(plaintext)).toBe(pay.plaintext);
    expect(p.ed25519Verify(fromHex(k.wallet.publicKey), fromHex(pay.signedContent), fromHex(pay.walletSignature))).toBe(true);
  });

  it('nfc-accept: the phone replays the recorded APDUs and accepts the signed answer', () => {
    const c = file.cases.find((x) => x.name === 'nfc-accept')!;
    const nfc = c.nfc!;
    let accepted = false;
    const phone = createHceResponder({
      randomBytes: () => fromHex(nfc.phoneNonce),
      onAnswer: (nonce, bytes) => {
        const a = decodeNfcAnswer(bytes);
        accepted = !!a && verifyNfcAnswerSignature(p, a, nonce) && toHex(a.sessionPublicKey) === nfc.sessionPublicKey;
        return accepted;
      },
    });
    for (const apdu of nfc.apdus) expect(toHex(phone.respond(fromHex(apdu.command)))).toBe(apdu.response);
    expect(accepted).toBe(true);
  });

  it('the batch frames the accepted records (entry type 1) and carries the till device signature', () => {
    const b = fromHex(file.batch.bytes);
    const r = new Reader(b);
    expect([r.u8(), r.u8(), r.u8()]).toEqual([0x44, 0x42, 1]);
    expect(toHex(r.bytes(8))).toBe(file.batch.deviceKeyId);
    expect(r.u32()).toBe(file.batch.batchSeq);
    const count = r.u16();
    expect(count).toBe(file.batch.count);
    const records = Array.from({ length: count }, () => {
      expect(r.u8()).toBe(1); // entry type 1 = debit record
      return toHex(r.bytes16());
    });
    const accepted = file.cases.flatMap((c) => (c.expected.decision === 'accept' ? [c.expected.record] : []));
    expect(records).toEqual(accepted);
    const signedLength = r.offset;
    const signature = r.bytes(64);
    r.end();
    const till1 = merchant.tills[0]!.device;
    expect(p.ed25519Verify(fromHex(till1.publicKey), labeled(LABEL.batch, b.subarray(0, signedLength)), signature)).toBe(true);
  });
});
