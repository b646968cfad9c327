/**
 * Re-verification of a debit record for settlement: the acquirer's side of decide().
 *
 * The acquirer re-checks everything the box checked that it can still check from the record
 * alone, with the same strict rules and the same decline codes, plus the box's own signature:
 *
 *   1. structure (decodeDebit)                              MALFORMED
 *   2. box: record's deviceKeyId and device signature       BAD_DEVICE_SIGNATURE
 *   3. debitId = f(wallet key, counter)                     BAD_DEBIT_ID
 *   4. card of that box's merchant                          UNKNOWN_CARD / WRONG_MERCHANT
 *   5. flow consistency (session key <=> nfc flow, key id)  CHALLENGE_MISMATCH / WRONG_MERCHANT
 *   6. credential: known issuer, issuer signature           UNKNOWN_ISSUER / BAD_CREDENTIAL
 *   7. wallet signature over paymentSignedContent           BAD_SIGNATURE
 *   8. credential expiry against the box's clock bound      CREDENTIAL_EXPIRED
 *   9. revocation the box already held                      REVOKED
 *  10. freshness (only with a policy)                       STALE
 *  11. currency and amount                                  CURRENCY_MISMATCH / OVER_LIMIT
 *
 * Pure: no I/O, never throws on input.
 */
import type { CryptoProvider } from './crypto/provider.ts';
import { equalBytes, toHex } from './encoding/bytes.ts';
import type { DeclineCode } from './decline-codes.ts';
import { paymentSignedContent } from './protocol/authorization.ts';
import type { IdentityCard } from './protocol/card.ts';
import { FLOW } from './protocol/constants.ts';
import { verifyCredentialSignature } from './protocol/credential.ts';
import { type DebitRecord, debitIdOf, decodeDebit, verifyDebitSignature } from './protocol/debit.ts';
import { keyId } from './protocol/labels.ts';
import type { Policy } from './views.ts';

/** Settlement-only codes, on top of the box's decline codes. */
export type SettlementCode = DeclineCode | 'BAD_DEVICE_SIGNATURE' | 'BAD_DEBIT_ID' | 'UNKNOWN_CARD';

export interface SettlementContext {
  /** The enrolled device key of the box that uploaded the record. */
  devicePublicKey: Uint8Array;
  /** keyId(devicePublicKey), when the caller computed it once for many records; computed here otherwise. */
  deviceKeyId?: Uint8Array;
  /** That box's merchant: the card the wallet paid must be one of this merchant's cards. */
  merchantId: string;
  /** Any card the authority ever issued, by serial (old cards stay valid for debits made with them). */
  cardBySerial(serial: number): { card: IdentityCard; hash: Uint8Array } | undefined;
  /** Trusted issuer keys by key id (hex), including keys retired by a rollover. */
  issuers: ReadonlyMap<string, Uint8Array>;
  /** The revocation-list version that first listed this wallet, and when; undefined if never revoked. */
  revocationOf(walletKeyHex: string): { version: number; atMs: number } | undefined;
  /**
   * Optional memo of credentials whose issuer signature already verified (key: SHA-256 of the
   * credential bytes, hex, + ':' + issuer key hex). A credential is long-lived and arrives with
   * every debit of its wallet, so the acquirer need not verify it again each time.
   */
  verifiedCredentials?: { has(key: string): boolean; add(key: string): void };
  /** Freshness window the box applied; omit to skip the freshness check. */
  policy?: Pick<Policy, 'freshnessMs' | 'futureSkewMs'>;
}

export interface SettlementOk {
  ok: true;
  debit: DebitRecord;
  walletKey: string;
  counter: number;
  amount: number;
  currency: string;
  debitId: string;
  cardSerial: number;
  /** The wallet's signed content (5.2) its signature verified over: what tells one authorization from another. */
  signedContent: Uint8Array;
}

export interface SettlementReject {
  ok: false;
  code: SettlementCode;
  detail: string;
  /** Set once the record parsed, so the caller can still key flags and reports on it. */
  debitId?: string;
  walletKey?: string;
}

export type SettlementCheck = SettlementOk | SettlementReject;

export function verifyDebitForSettlement(p: CryptoProvider, recordBytes: Uint8Array, ctx: SettlementContext): SettlementCheck {
  try {
    return verifyUnsafe(p, recordBytes, ctx);
  } catch (e) {
    return { ok: false, code: 'MALFORMED', detail: `internal: ${e instanceof Error ? e.name : 'error'}` };
  }
}

function verifyUnsafe(p: CryptoProvider, recordBytes: Uint8Array, ctx: SettlementContext): SettlementCheck {
  const d = decodeDebit(recordBytes);
  if (!d) return { ok: false, code: 'MALFORMED', detail: 'debit record does not parse' };
  const a = d.auth;
  const cred = a.credential;
  const walletKey = toHex(cred.walletPublicKey);
  const debitId = toHex(d.debitId);
  const reject = (code: SettlementCode, detail: string): SettlementReject => ({ ok: false, code, detail, debitId, walletKey });

  if (!equalBytes(d.deviceKeyId, ctx.deviceKeyId ?? keyId(p, ctx.devicePublicKey))) return reject('BAD_DEVICE_SIGNATURE', 'record names another box');
  if (!verifyDebitSignature(p, ctx.devicePublicKey, d)) return reject('BAD_DEVICE_SIGNATURE', 'device signature');
  if (!equalBytes(d.debitId, debitIdOf(p, cred.walletPublicKey, a.counter))) return reject('BAD_DEBIT_ID', 'debitId is not f(wallet key, counter)');

  const entry = ctx.cardBySerial(a.cardSerial);
  if (!entry) return reject('UNKNOWN_CARD', `card ${a.cardSerial}`);
  if (entry.card.merchantId !== ctx.merchantId) return reject('WRONG_MERCHANT', `card ${a.cardSerial} is not this merchant's`);

  const headerKeyId = d.header.subarray(5, 13);
  const hasSession = d.sessionPublicKey.length === 32;
  if (a.flow === FLOW.nfc) {
    if (!hasSession || !a.nfc) return reject('CHALLENGE_MISMATCH', 'nfc flow without a session key');
    if (!equalBytes(headerKeyId, keyId(p, d.sessionPublicKey))) return reject('CHALLENGE_MISMATCH', 'header key id is not the session key');
    if (a.nfc.chargeId !== d.chargeId) return reject('CHALLENGE_MISMATCH', 'record charge id differs from the signed one');
  } else {
    if (hasSession) return reject('CHALLENGE_MISMATCH', 'session key without nfc flow');
    if (!equalBytes(headerKeyId, entry.card.encKeyId)) return reject('WRONG_MERCHANT', 'card and key id disagree');
  }

  const issuerKey = ctx.issuers.get(toHex(cred.issuerKeyId));
  if (!issuerKey) return reject('UNKNOWN_ISSUER', `issuer ${toHex(cred.issuerKeyId)}`);
  const memoKey = ctx.verifiedCredentials ? `${toHex(p.sha256(cred.bytes))}:${toHex(issuerKey)}` : '';
  if (!ctx.verifiedCredentials?.has(memoKey)) {
    if (!verifyCredentialSignature(p, issuerKey, cred)) return reject('BAD_CREDENTIAL', 'issuer signature');
    ctx.verifiedCredentials?.add(memoKey);
  }

  const signed = paymentSignedContent(p, a, entry.hash, d.header, hasSession ? d.sessionPublicKey : undefined);
  if (!p.ed25519Verify(cred.walletPublicKey, signed, a.walletSignature)) return reject('BAD_SIGNATURE', 'wallet signature');

  if (cred.notAfter < d.clockLower) return reject('CREDENTIAL_EXPIRED', 'credential expired before acceptance');
  const revoked = ctx.revocationOf(walletKey);
  if (revoked && d.revocationVersion >= revoked.version) {
    return reject('REVOKED', `box held revocation list v${d.revocationVersion}, wallet revoked in v${revoked.version}`);
  }
  if (ctx.policy) {
    if (a.timestamp * 1000 < d.clockLower * 1000 - ctx.policy.freshnessMs) return reject('STALE', 'code too old');
    if (a.timestamp * 1000 > d.clockUpper * 1000 + 999 + ctx.policy.futureSkewMs) return reject('STALE', 'code from the future');
  }
  if (cred.currency !== a.currency || entry.card.currency !== a.currency) return reject('CURRENCY_MISMATCH', `debit in ${a.currency}`);
  if (a.amount <= 0 || a.amount > cred.offlineLimit) return reject('OVER_LIMIT', `amount ${a.amount}, limit ${cred.offlineLimit}`);

  return { ok: true, debit: d, walletKey, counter: a.counter, amount: a.amount, currency: a.currency, debitId, cardSerial: a.cardSerial, signedContent: signed };
}
