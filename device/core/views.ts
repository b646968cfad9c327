/**
 * What the decision function sees of the world. Each view is a small read-only interface so the
 * core stays pure: the journal, the key store and the clock live behind them, at the edges.
 */
import type { HpkeBaseReceiver } from './crypto/hpke.ts';
import type { Ed25519Signer, X25519PrivateKey } from './crypto/provider.ts';
import type { IdentityCard } from './protocol/card.ts';

/** Bounds on the true time. The box never knows the time exactly (no RTC on a Pi). */
export interface ClockView {
  lowerMs: number;
  upperMs: number;
}

/** A live NFC session, held in RAM only. */
export interface NfcSession {
  keyIdHex: string;
  key: X25519PrivateKey;
  sessionPublicKey: Uint8Array;
  challenge: Uint8Array;
  chargeId: string;
  amount: number;
  currency: string;
  cardSerial: number;
  expiresAtMs: number;
}

export interface SessionView {
  get(keyIdHex: string): NfcSession | undefined;
  /** True for a session that existed and was used, expired or cancelled recently (RAM only). */
  recentlyClosed(keyIdHex: string): boolean;
}

export interface RosterEntry {
  card: IdentityCard;
  hash: Uint8Array;
}

export interface KeyStoreView {
  /** Merchant decryption keys by key id (hex): the current one and the previous one during rotation. */
  decryptionKeys: ReadonlyMap<string, X25519PrivateKey>;
  /** Optional: the same keys with their HPKE key schedule context precomputed (the scan hot path). */
  receivers?: ReadonlyMap<string, HpkeBaseReceiver>;
  /** This merchant's valid cards, by serial: this box's own card and those of its sibling tills. */
  roster: ReadonlyMap<number, RosterEntry>;
  device: Ed25519Signer;
  deviceKeyId: Uint8Array;
  sessions: SessionView;
}

/** Trusted wallet-issuer keys by key id (hex). */
export interface IssuerView {
  get(keyIdHex: string): Uint8Array | undefined;
}

export interface RevocationView {
  version: number;
  /** When the issuer signed this list (ms). */
  issuedAtMs: number;
  /** Keyed on the wallet public key (hex). */
  isRevoked(walletKeyHex: string): boolean;
}

export interface ReplayView {
  has(walletKeyHex: string, counter: number): boolean;
  /** Sum of this wallet's debits at this box not yet acknowledged by the acquirer, in minor units. */
  unsyncedSpend(walletKeyHex: string, currency: string): number;
}

export type AmountSource =
  | { kind: 'charge'; chargeId: string; amount: number; currency: string }
  | { kind: 'fixed'; amount: number; currency: string }
  | { kind: 'none' };

export interface Policy {
  /** How old a code's timestamp may be (provably, against the clock's lower bound). */
  freshnessMs: number;
  /** How far ahead of the clock's upper bound a code's timestamp may be. */
  futureSkewMs: number;
  /** How old the revocation list may be before the box declines with REVOCATION_STALE. */
  revocationMaxAgeMs: number;
  /** Refuse codes made without an NFC challenge. */
  requireChallenge: boolean;
}

export const DEFAULT_POLICY: Policy = {
  freshnessMs: 10 * 60_000,
  futureSkewMs: 5 * 60_000,
  revocationMaxAgeMs: 7 * 24 * 3600_000,
  requireChallenge: false,
};
