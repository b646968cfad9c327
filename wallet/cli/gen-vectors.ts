/**
 * Generates docs/vectors/qrpay-v1.json: the project's own, fully deterministic protocol vectors
 * (fixed seeds, fixed time, fixed HPKE ikmE). Ed25519 signatures are deterministic, so the file
 * reproduces byte for byte; test/unit/generated-vectors.test.ts checks that and replays every case
 * through decide() on both crypto providers.
 *
 *   npx tsx wallet/cli/gen-vectors.ts           write the file
 *   npx tsx wallet/cli/gen-vectors.ts --check   exit 1 when the committed file differs
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { issueCard, issueCredential } from '../../backend/lib/issue.ts';
import { decide } from '../../device/core/decide.ts';
import { deriveX25519KeyPair, hpkeOpen, setupBaseSender } from '../../device/core/crypto/hpke.ts';
import { nobleProvider } from '../../device/core/crypto/noble.ts';
import type { CryptoProvider, Ed25519Signer, X25519PrivateKey } from '../../device/core/crypto/provider.ts';
import { base45Decode, base45Encode } from '../../device/core/encoding/base45.ts';
import { fromHex, toHex } from '../../device/core/encoding/bytes.ts';
import { decodeAuthorization, paymentSignedContent } from '../../device/core/protocol/authorization.ts';
import { ENTRY, signBatch } from '../../device/core/protocol/batch.ts';
import { cardHash, cardToText, type IdentityCard } from '../../device/core/protocol/card.ts';
import { ENVELOPE_PREFIX, LABEL } from '../../device/core/protocol/constants.ts';
import type { Credential } from '../../device/core/protocol/credential.ts';
import { decodeDebit } from '../../device/core/protocol/debit.ts';
import { envelopeInfo, parseEnvelope } from '../../device/core/protocol/envelope.ts';
import { keyId, labeled } from '../../device/core/protocol/labels.ts';
import { signNfcAnswer } from '../../device/core/protocol/nfc-answer.ts';
import { type AmountSource, DEFAULT_POLICY, type NfcSession, type Policy, type RosterEntry } from '../../device/core/views.ts';
import { buildSelect, chunkAnswer, QRPAY_AID } from '../../drivers/nfc/apdu.ts';
import { Wallet } from '../lib/wallet.ts';

export const VECTOR_FILE = 'docs/vectors/qrpay-v1.json';
/** 2026-11-25T12:00:00Z: the box clock's lower bound in every case. */
export const T0_MS = Date.UTC(2026, 10, 25, 12, 0, 0);
const T0 = T0_MS / 1000;
const NFC_TTL_SECONDS = 120;

const fill = (n: number, len = 32): Uint8Array => new Uint8Array(len).fill(n);
const sha = (p: CryptoProvider, b: Uint8Array): string => toHex(p.sha256(b));

interface Till {
  tillId: number;
  deviceSeed: Uint8Array;
  device: Ed25519Signer;
  card: IdentityCard;
}
interface MerchantWorld {
  merchantId: string;
  encSecret: Uint8Array;
  encKey: X25519PrivateKey;
  tills: Till[];
}

/** The fixed world: same seeds as test/support/world.ts (authority 01, issuer 02, devices 0a.., merchants 14/1e, wallet 29). */
function makeWorld(p: CryptoProvider) {
  const authority = p.ed25519Signer(fill(0x01));
  const issuer = p.ed25519Signer(fill(0x02));
  const authorities = new Map([[toHex(keyId(p, authority.publicKey)), authority.publicKey]]);
  let serial = 0;
  const merchant = (merchantId: string, encSeed: number, firstSerial: number, deviceSeeds: number[]): MerchantWorld => {
    const encSecret = fill(encSeed);
    const encKey = p.x25519PrivateKey(encSecret);
    serial = firstSerial;
    const tills = deviceSeeds.map((ds, i): Till => {
      const device = p.ed25519Signer(fill(ds));
      const card = issueCard(p, authority, {
        serial: serial++,
        tillId: i + 1,
        merchantId,
        displayName: `${merchantId} Café`,
        currency: 'EUR',
        currencyExponent: 2,
        encPublicKey: encKey.publicKey,
        devicePublicKey: device.publicKey,
        notBeforeSec: T0 - 86400,
        notAfterSec: T0 + 365 * 86400,
        location: { lat: 52.52, lon: 13.405 },
      });
      return { tillId: i + 1, deviceSeed: fill(ds), device, card };
    });
    return { merchantId, encSecret, encKey, tills };
  };
  const shopA = merchant('SHOP-A', 0x14, 100, [0x0a, 0x0b]);
  const shopB = merchant('SHOP-B', 0x1e, 200, [0x0c]);
  const walletSeed = fill(0x29);
  const credential = issueCredential(p, issuer, {
    walletPublicKey: p.ed25519Signer(walletSeed).publicKey,
    accountToken: fill(0x01, 16),
    currency: 'EUR',
    offlineLimit: 50_00,
    notAfterSec: T0 + 180 * 86400,
  });
  return { authority, issuer, authorities, shopA, shopB, walletSeed, credential };
}
type World = ReturnType<typeof makeWorld>;

const signedKey = (p: CryptoProvider, seed: Uint8Array, s: Ed25519Signer) => ({
  seed: toHex(seed),
  publicKey: toHex(s.publicKey),
  keyId: toHex(keyId(p, s.publicKey)),
});

function cardVector(p: CryptoProvider, c: IdentityCard) {
  return {
    serial: c.serial,
    tillId: c.tillId,
    bytes: toHex(c.bytes),
    text: cardToText(c),
    signedContent: toHex(labeled(LABEL.card, c.signedBytes)),
    signature: toHex(c.signature),
    cardHash: sha(p, c.bytes),
  };
}

function credentialVector(p: CryptoProvider, c: Credential) {
  return {
    bytes: toHex(c.bytes),
    signedContent: toHex(labeled(LABEL.credential, c.signedBytes)),
    signature: toHex(c.signature),
    credentialHash: sha(p, c.bytes),
    accountToken: toHex(c.accountToken),
    offlineLimit: c.offlineLimit,
    notAfter: c.notAfter,
  };
}

/** The NFC tap of the nfc-accept case: session key 0x50.., challenge 0x51.., phone nonce 0x52... */
function nfcTap(p: CryptoProvider, w: World, chargeId: string, amount: number) {
  const till = w.shopA.tills[0]!;
  const sessionSecret = fill(0x50);
  const key = p.x25519PrivateKey(sessionSecret);
  const challenge = fill(0x51, 16);
  const phoneNonce = fill(0x52, 16);
  const session: NfcSession = {
    keyIdHex: toHex(keyId(p, key.publicKey)),
    key,
    sessionPublicKey: key.publicKey,
    challenge,
    chargeId,
    amount,
    currency: 'EUR',
    cardSerial: till.card.serial,
    expiresAtMs: T0_MS + NFC_TTL_SECONDS * 1000,
  };
  const answer = signNfcAnswer(
    { card: till.card, challenge, sessionPublicKey: key.publicKey, chargeId, amount, currency: 'EUR', ttlSeconds: NFC_TTL_SECONDS },
    phoneNonce,
    till.device,
  );
  const select = buildSelect(QRPAY_AID);
  const selectResponse = Uint8Array.of(0x01, ...phoneNonce, 0x90, 0x00);
  const chunks = chunkAnswer(answer);
  const nfc = {
    sessionSecret: toHex(sessionSecret),
    sessionPublicKey: toHex(key.publicKey),
    sessionKeyId: session.keyIdHex,
    challenge: toHex(challenge),
    chargeId,
    amount,
    currency: 'EUR',
    ttlSeconds: NFC_TTL_SECONDS,
    expiresAtMs: session.expiresAtMs,
    phoneNonce: toHex(phoneNonce),
    answer: toHex(answer),
    answerSignedContent: toHex(labeled(LABEL.nfcAnswer, phoneNonce, answer.subarray(0, answer.length - 64))),
    apdus: [
      { command: toHex(select), response: toHex(selectResponse) },
      ...chunks.map((c) => ({ command: toHex(c), response: '9000' })),
    ],
  };
  return { session, answer, phoneNonce, nfc };
}

interface PaySpec {
  card: IdentityCard;
  amount: number;
  counter: number;
  timestampSec: number;
  ikmE: Uint8Array;
  recipient: X25519PrivateKey;
  tap?: ReturnType<typeof nfcTap>;
}

/** Pays through the reference wallet, then opens the code to expose every intermediate value. */
function payment(p: CryptoProvider, w: World, s: PaySpec) {
  const wallet = new Wallet(p, { seed: w.walletSeed, credential: w.credential, counter: s.counter - 1 }, { authorities: w.authorities, now: () => T0_MS });
  const nfcAnswer = s.tap ? wallet.verifyNfcAnswer(s.tap.answer, s.tap.phoneNonce) : undefined;
  const { text } = wallet.pay(s.card, s.amount, { ikmE: s.ikmE, timestampSec: s.timestampSec, ...(nfcAnswer ? { nfc: nfcAnswer } : {}) });
  const parsed = parseEnvelope(text);
  if (!parsed.ok) throw new Error(`gen-vectors: wallet produced an unparsable code (${parsed.detail})`);
  const env = parsed.envelope;
  const info = envelopeInfo(env.keyId);
  const { enc, context } = setupBaseSender(p, s.recipient.publicKey, info, s.ikmE);
  if (toHex(enc) !== toHex(env.enc)) throw new Error('gen-vectors: enc does not reproduce from ikmE');
  const plaintext = hpkeOpen(p, s.recipient, env.enc, info, env.header, env.ciphertext);
  const a = plaintext && decodeAuthorization(plaintext);
  if (!plaintext || !a) throw new Error('gen-vectors: cannot open the wallet code');
  const signed = paymentSignedContent(p, a, cardHash(p, s.card), env.header, s.tap?.session.sessionPublicKey);
  if (!p.ed25519Verify(w.credential.walletPublicKey, signed, a.walletSignature)) throw new Error('gen-vectors: wallet signature does not verify');
  return {
    text,
    vector: {
      flow: a.flow === 2 ? 'nfc' : 'static',
      cardSerial: s.card.serial,
      cardHash: sha(p, s.card.bytes),
      amount: a.amount,
      currency: a.currency,
      counter: a.counter,
      timestampSec: a.timestamp,
      hpke: {
        recipientPublicKey: toHex(s.recipient.publicKey),
        recipientKeyId: toHex(env.keyId),
        ikmE: toHex(s.ikmE),
        skE: toHex(deriveX25519KeyPair(p, s.ikmE).secret),
        enc: toHex(env.enc),
        info: toHex(info),
        aad: toHex(env.header),
        sharedSecret: toHex(context.schedule.sharedSecret),
        key: toHex(context.schedule.key),
        baseNonce: toHex(context.schedule.baseNonce),
      },
      header: toHex(env.header),
      plaintext: toHex(plaintext),
      signedContent: toHex(signed),
      walletSignature: toHex(a.walletSignature),
      ciphertext: toHex(env.ciphertext),
      envelopeText: text,
      envelopeChars: text.length,
    },
  };
}

interface Context {
  amountSource: AmountSource;
  replay: { seen: { walletKey: string; counter: number }[]; unsyncedSpend: number };
  revocations: { version: number; issuedAtMs: number; revoked: string[] };
  clock: { lowerMs: number; upperMs: number };
  policy: Policy;
}

function defaultContext(): Context {
  return {
    amountSource: { kind: 'charge', chargeId: 'C-1', amount: 12_50, currency: 'EUR' },
    replay: { seen: [], unsyncedSpend: 0 },
    revocations: { version: 7, issuedAtMs: T0_MS - 3600_000, revoked: [] },
    clock: { lowerMs: T0_MS, upperMs: T0_MS + 60_000 },
    policy: { ...DEFAULT_POLICY },
  };
}

/** Runs decide() at SHOP-A till `tillIndex` on the context; returns the expected-decision object. */
function expected(p: CryptoProvider, w: World, text: string, ctx: Context, tillIndex: number, session?: NfcSession) {
  const m = w.shopA;
  const roster = new Map<number, RosterEntry>(m.tills.map((t) => [t.card.serial, { card: t.card, hash: cardHash(p, t.card) }]));
  const device = m.tills[tillIndex]!.device;
  const seen = new Set(ctx.replay.seen.map((s) => `${s.walletKey}/${s.counter}`));
  const d = decide(p, {
    text,
    keys: {
      decryptionKeys: new Map([[toHex(keyId(p, m.encKey.publicKey)), m.encKey]]),
      roster,
      device,
      deviceKeyId: keyId(p, device.publicKey),
      sessions: { get: (k) => (session && session.keyIdHex === k ? session : undefined), recentlyClosed: () => false },
    },
    issuers: { get: (k) => (k === toHex(keyId(p, w.issuer.publicKey)) ? w.issuer.publicKey : undefined) },
    revocations: { version: ctx.revocations.version, issuedAtMs: ctx.revocations.issuedAtMs, isRevoked: (k) => ctx.revocations.revoked.includes(k) },
    replay: { has: (wk, c) => seen.has(`${wk}/${c}`), unsyncedSpend: () => ctx.replay.unsyncedSpend },
    amount: ctx.amountSource,
    clock: ctx.clock,
    policy: ctx.policy,
  });
  if (d.kind === 'decline') return { decision: 'decline' as const, code: d.code };
  const rec = decodeDebit(d.record);
  if (!rec) throw new Error('gen-vectors: decide produced an undecodable debit record');
  return {
    decision: 'accept' as const,
    debitId: d.debitId,
    record: toHex(d.record),
    recordFields: {
      deviceKeyId: toHex(rec.deviceKeyId),
      acceptedAt: rec.acceptedAt,
      clockLower: rec.clockLower,
      clockUpper: rec.clockUpper,
      revocationVersion: rec.revocationVersion,
      chargeId: rec.chargeId,
      sessionPublicKey: toHex(rec.sessionPublicKey),
    },
  };
}

/** The merchant key package of SHOP-A for till 1's identity key, with a fixed ikmE (wrapMerchantKey with a chosen ephemeral). */
function merchantKeyPackage(p: CryptoProvider, w: World) {
  const identitySecret = fill(0x0f);
  const identity = p.x25519PrivateKey(identitySecret);
  const ikmE = fill(0x60);
  const info = labeled('qrpay/v1/merchant-key', Uint8Array.from(w.shopA.merchantId, (c) => c.charCodeAt(0)));
  const aad = keyId(p, w.shopA.encKey.publicKey);
  const { enc, context } = setupBaseSender(p, identity.publicKey, info, ikmE);
  const pkg = new Uint8Array([...enc, ...context.seal(aad, w.shopA.encSecret)]);
  return {
    merchantId: w.shopA.merchantId,
    boxIdentitySecret: toHex(identitySecret),
    boxIdentityPublicKey: toHex(identity.publicKey),
    ikmE: toHex(ikmE),
    info: toHex(info),
    aad: toHex(aad),
    package: toHex(pkg),
    merchantKeyId: toHex(aad),
  };
}

export function buildVectors(p: CryptoProvider) {
  const w = makeWorld(p);
  const [till1, till2] = w.shopA.tills as [Till, Till];
  const shopBCard = w.shopB.tills[0]!.card;
  const cases: unknown[] = [];
  const texts = new Map<string, string>();
  const records: Uint8Array[] = [];

  const add = (name: string, description: string, spec: Omit<PaySpec, 'recipient'> & { recipient?: X25519PrivateKey }, ctxPatch: Partial<Context> = {}, opts: { reuse?: string; tamper?: boolean } = {}) => {
    const ctx = { ...defaultContext(), ...ctxPatch };
    const pay = opts.reuse ? undefined : payment(p, w, { recipient: w.shopA.encKey, ...spec });
    let text = pay ? pay.text : texts.get(opts.reuse!)!;
    if (opts.tamper) {
      const bin = base45Decode(text.slice(ENVELOPE_PREFIX.length))!;
      bin[bin.length - 20]! ^= 0x01; // one bit of the ciphertext body (not the tag)
      text = ENVELOPE_PREFIX + base45Encode(bin);
    }
    texts.set(name, text);
    const exp = expected(p, w, text, ctx, 0, spec.tap?.session);
    if (exp.decision === 'accept') records.push(fromHex(exp.record));
    cases.push({
      name,
      description,
      box: { merchantId: 'SHOP-A', tillId: 1, cardSerial: till1.card.serial },
      ...(pay ? { payment: pay.vector } : { reusesCodeOf: opts.reuse }),
      ...(spec.tap ? { nfc: spec.tap.nfc } : {}),
      scannedText: text,
      context: ctx,
      expected: exp,
    });
  };

  const base = { card: till1.card, amount: 12_50, timestampSec: T0 - 5 };
  add('static-accept', 'Static flow: the customer pays 12.50 EUR to till 1 card; the box has charge C-1 for 12.50.', { ...base, counter: 1, ikmE: fill(0x71) });
  add('sibling-till-accept', 'A code made for till 2 card (same merchant key) is accepted at till 1: every till of the merchant holds the roster.', { ...base, card: till2.card, counter: 2, ikmE: fill(0x72) });
  const tap = nfcTap(p, w, 'C-2', 8_90);
  add(
    'nfc-accept',
    'NFC flow: till 1 answers the tap with session key, challenge and charge C-2 for 8.90; the code is encrypted to the session key.',
    { card: till1.card, amount: 8_90, counter: 3, timestampSec: T0 - 5, ikmE: fill(0x73), recipient: tap.session.key, tap },
    { amountSource: { kind: 'charge', chargeId: 'C-2', amount: 8_90, currency: 'EUR' } },
  );
  add('wrong-merchant', 'The code was made for SHOP-B card 200 (photographed at SHOP-B) and shown at SHOP-A.', { ...base, card: shopBCard, counter: 4, ikmE: fill(0x74), recipient: w.shopB.encKey });
  add('amount-mismatch', 'The customer signed 12.50 but the pending charge is 15.00.', { ...base, counter: 5, ikmE: fill(0x75) }, { amountSource: { kind: 'charge', chargeId: 'C-1', amount: 15_00, currency: 'EUR' } });
  add('tampered-envelope', 'The static-accept code with one ciphertext bit flipped: the AEAD tag fails.', { ...base, counter: 1, ikmE: fill(0x71) }, {}, { reuse: 'static-accept', tamper: true });
  const walletKey = toHex(w.credential.walletPublicKey);
  add('replayed', 'The static-accept code scanned again after the box committed it.', { ...base, counter: 1, ikmE: fill(0x71) }, { replay: { seen: [{ walletKey, counter: 1 }], unsyncedSpend: 12_50 } }, { reuse: 'static-accept' });
  add('stale', 'The code timestamp is 601 s before the clock lower bound (freshness window 600 s).', { ...base, counter: 6, timestampSec: T0 - 601, ikmE: fill(0x76) });
  add('over-limit', 'This wallet already spent 40.00 at this box since its last sync; 40.00 + 12.50 > offline limit 50.00.', { ...base, counter: 7, ikmE: fill(0x77) }, { replay: { seen: [], unsyncedSpend: 40_00 } });
  add('revocation-stale', 'The revocation list was issued 8 days before the clock lower bound (max age 7 days).', { ...base, counter: 8, ikmE: fill(0x78) }, { revocations: { version: 7, issuedAtMs: T0_MS - 8 * 86400_000, revoked: [] } });
  add('challenge-required', 'A static-flow code at a box configured with requireChallenge.', { ...base, counter: 9, ikmE: fill(0x79) }, { policy: { ...DEFAULT_POLICY, requireChallenge: true } });

  const batch = signBatch(keyId(p, till1.device.publicKey), 1, records.map((bytes) => ({ type: ENTRY.debit, bytes })), till1.device);
  return {
    protocol: 'QRPay protocol v1',
    generator: 'npx tsx wallet/cli/gen-vectors.ts (noble provider); checked by test/unit/generated-vectors.test.ts',
    conventions: 'All byte strings are lowercase hex. Times: *Sec = Unix seconds, *Ms = Unix milliseconds. Amounts in minor units.',
    time: { t0Ms: T0_MS, t0Sec: T0 },
    keys: {
      authority: signedKey(p, fill(0x01), w.authority),
      issuer: signedKey(p, fill(0x02), w.issuer),
      wallet: { ...signedKey(p, w.walletSeed, p.ed25519Signer(w.walletSeed)), credential: credentialVector(p, w.credential) },
      merchants: [w.shopA, w.shopB].map((m) => ({
        merchantId: m.merchantId,
        encSecret: toHex(m.encSecret),
        encPublicKey: toHex(m.encKey.publicKey),
        encKeyId: toHex(keyId(p, m.encKey.publicKey)),
        tills: m.tills.map((t) => ({ tillId: t.tillId, device: signedKey(p, t.deviceSeed, t.device), card: cardVector(p, t.card) })),
      })),
    },
    merchantKeyPackage: merchantKeyPackage(p, w),
    cases,
    batch: {
      description: 'The accepted debit records above (in case order, entry type 1 each) uploaded by till 1 as batch 1.',
      deviceKeyId: toHex(keyId(p, till1.device.publicKey)),
      batchSeq: 1,
      count: records.length,
      bytes: toHex(batch),
    },
  };
}

export type VectorFile = ReturnType<typeof buildVectors>;

export function renderVectors(v: VectorFile): string {
  return `${JSON.stringify(v, null, 2)}\n`;
}

function main(): void {
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const file = path.join(repoRoot, VECTOR_FILE);
  const text = renderVectors(buildVectors(nobleProvider));
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      current = '';
    }
    if (current !== text) {
      process.stderr.write(`gen-vectors: ${VECTOR_FILE} is out of date; run npx tsx wallet/cli/gen-vectors.ts\n`);
      process.exit(1);
    }
    process.stderr.write(`gen-vectors: ${VECTOR_FILE} is up to date\n`);
    return;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  process.stderr.write(`gen-vectors: wrote ${VECTOR_FILE} (${text.length} bytes)\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) main();
