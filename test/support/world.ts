/**
 * A complete small payment world for tests: authority, issuer, one merchant with two tills, a second
 * merchant, wallets. Deterministic seeds so failures reproduce.
 */
import { issueCard, issueCredential } from '../../backend/lib/issue.ts';
import type { CryptoProvider, Ed25519Signer, X25519PrivateKey } from '../../device/core/crypto/provider.ts';
import { prepareBaseReceiver } from '../../device/core/crypto/hpke.ts';
import { fromHex, toHex } from '../../device/core/encoding/bytes.ts';
import { envelopeInfo } from '../../device/core/protocol/envelope.ts';
import { cardHash, type IdentityCard } from '../../device/core/protocol/card.ts';
import { keyId } from '../../device/core/protocol/labels.ts';
import { signNfcAnswer } from '../../device/core/protocol/nfc-answer.ts';
import type { DecisionInput } from '../../device/core/decide.ts';
import {
  type AmountSource,
  DEFAULT_POLICY,
  type KeyStoreView,
  type NfcSession,
  type ReplayView,
  type RosterEntry,
} from '../../device/core/views.ts';
import { Wallet } from '../../wallet/lib/wallet.ts';

export const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
export const T0_SEC = Math.floor(T0 / 1000);

export function seed(n: number): Uint8Array {
  return new Uint8Array(32).fill(n);
}

export interface Merchant {
  id: string;
  encKey: X25519PrivateKey;
  prevEncKey: X25519PrivateKey;
  cards: IdentityCard[];
  prevCard: IdentityCard;
}

export function makeWorld(p: CryptoProvider) {
  const authority = p.ed25519Signer(seed(1));
  const issuer = p.ed25519Signer(seed(2));
  const authorities = new Map([[toHex(keyId(p, authority.publicKey)), authority.publicKey]]);
  const issuers = new Map([[toHex(keyId(p, issuer.publicKey)), issuer.publicKey]]);
  const device = [p.ed25519Signer(seed(10)), p.ed25519Signer(seed(11)), p.ed25519Signer(seed(12))];

  const merchant = (id: string, encSeed: number, prevSeed: number, firstSerial: number, devices: number[]): Merchant => {
    const encKey = p.x25519PrivateKey(seed(encSeed));
    const prevEncKey = p.x25519PrivateKey(seed(prevSeed));
    const card = (serial: number, tillId: number, key: X25519PrivateKey, dev: number) =>
      issueCard(p, authority, {
        serial,
        tillId,
        merchantId: id,
        displayName: `${id} Café`,
        currency: 'EUR',
        encPublicKey: key.publicKey,
        devicePublicKey: device[dev]!.publicKey,
        notBeforeSec: T0_SEC - 86400,
        notAfterSec: T0_SEC + 365 * 86400,
        location: { lat: 52.52, lon: 13.405 },
      });
    const cards = devices.map((d, i) => card(firstSerial + i, i + 1, encKey, d));
    return { id, encKey, prevEncKey, cards, prevCard: card(firstSerial + 50, 1, prevEncKey, devices[0]!) };
  };
  const shopA = merchant('SHOP-A', 20, 21, 100, [0, 1]);
  const shopB = merchant('SHOP-B', 30, 31, 200, [2]);

  const wallet = (n: number, opts: { limit?: number; notAfterSec?: number; issuerSigner?: typeof issuer } = {}) =>
    new Wallet(
      p,
      {
        seed: seed(40 + n),
        counter: 0,
        credential: issueCredential(p, opts.issuerSigner ?? issuer, {
          walletPublicKey: p.ed25519Signer(seed(40 + n)).publicKey,
          accountToken: new Uint8Array(16).fill(n),
          currency: 'EUR',
          offlineLimit: opts.limit ?? 50_00,
          notAfterSec: opts.notAfterSec ?? T0_SEC + 180 * 86400,
        }),
      },
      { authorities, now: () => T0 },
    );

  /** The key store view of merchant `m`'s till `till` (0-based). */
  const keysOf = (m: Merchant, till: number, sessions: NfcSession[] = [], closed: string[] = []): KeyStoreView => {
    const roster = new Map<number, RosterEntry>();
    for (const c of [...m.cards, m.prevCard]) roster.set(c.serial, { card: c, hash: cardHash(p, c) });
    const dev = device[m === shopB ? 2 : till]!;
    const decryptionKeys = new Map([
      [toHex(keyId(p, m.encKey.publicKey)), m.encKey],
      [toHex(keyId(p, m.prevEncKey.publicKey)), m.prevEncKey],
    ]);
    return {
      decryptionKeys,
      // Till 0 uses prepared HPKE receivers (as the box does); other tills the one-shot path.
      ...(till === 0 ? { receivers: new Map([...decryptionKeys].map(([kid, key]) => [kid, prepareBaseReceiver(p, key, envelopeInfo(fromHex(kid)))])) } : {}),
      roster,
      device: dev,
      deviceKeyId: keyId(p, dev.publicKey),
      sessions: {
        get: (k) => sessions.find((s) => s.keyIdHex === k),
        recentlyClosed: (k) => closed.includes(k),
      },
    };
  };

  return { authority, issuer, authorities, issuers, device, shopA, shopB, wallet, keysOf };
}

export type World = ReturnType<typeof makeWorld>;

/** An in-memory replay view with the same semantics as the journal's. */
export function memoryReplay(): ReplayView & { add(walletKey: string, counter: number, amount: number): void } {
  const seen = new Set<string>();
  const spend = new Map<string, number>();
  return {
    has: (w, c) => seen.has(`${w}/${c}`),
    unsyncedSpend: (w) => spend.get(w) ?? 0,
    add(w, c, amount) {
      seen.add(`${w}/${c}`);
      spend.set(w, (spend.get(w) ?? 0) + amount);
    },
  };
}

export function baseInput(w: World, text: string, overrides: Partial<DecisionInput> = {}): DecisionInput {
  const amount: AmountSource = { kind: 'charge', chargeId: 'C-1', amount: 12_50, currency: 'EUR' };
  return {
    text,
    keys: w.keysOf(w.shopA, 0),
    issuers: { get: (k) => w.issuers.get(k) },
    revocations: { version: 7, issuedAtMs: T0 - 3600_000, isRevoked: () => false },
    replay: memoryReplay(),
    amount,
    clock: { lowerMs: T0, upperMs: T0 + 60_000 },
    policy: DEFAULT_POLICY,
    ...overrides,
  };
}

/** Options of `openNfcTap`: everything defaults to a consistent tap at SHOP-A till 1 for 12.50 EUR, charge C-1. */
export interface NfcTapOptions {
  chargeId?: string;
  amount?: number;
  /** The card index in shopA.cards the box presents (and the session's card serial). */
  till?: number;
  expiresAtMs?: number;
  /** Who signs the answer (default: the till's own device key). */
  answerSigner?: Ed25519Signer;
  /** The challenge the answer carries (default: the session's). */
  answerChallenge?: Uint8Array;
  answerChargeId?: string;
}

/**
 * One NFC tap: the box's RAM session and the signed answer the phone receives for `phoneNonce`.
 * The session key is random, like a real box's.
 */
export function openNfcTap(p: CryptoProvider, w: World, o: NfcTapOptions = {}) {
  const till = o.till ?? 0;
  const card = w.shopA.cards[till]!;
  const key = p.x25519PrivateKey(p.randomBytes(32));
  const challenge = p.randomBytes(16);
  const phoneNonce = p.randomBytes(16);
  const session: NfcSession = {
    keyIdHex: toHex(keyId(p, key.publicKey)),
    key,
    sessionPublicKey: key.publicKey,
    challenge,
    chargeId: o.chargeId ?? 'C-1',
    amount: o.amount ?? 12_50,
    currency: 'EUR',
    cardSerial: card.serial,
    expiresAtMs: o.expiresAtMs ?? T0 + 30_000,
  };
  const answerBytes = signNfcAnswer(
    {
      card,
      challenge: o.answerChallenge ?? challenge,
      sessionPublicKey: key.publicKey,
      chargeId: o.answerChargeId ?? session.chargeId,
      amount: session.amount,
      currency: 'EUR',
      ttlSeconds: 30,
    },
    phoneNonce,
    o.answerSigner ?? w.device[till]!,
  );
  return { card, session, phoneNonce, answerBytes };
}
