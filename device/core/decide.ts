/**
 * The accept/decline decision: pure, synchronous, never throws on input.
 * The order of the checks is normative (docs/protocol.md section 8).
 */
import type { CryptoProvider, X25519PrivateKey } from './crypto/provider.ts';
import { hpkeOpen } from './crypto/hpke.ts';
import { toHex } from './encoding/bytes.ts';
import { type DeclineCode, DECLINE } from './decline-codes.ts';
import { type Authorization, decodeAuthorization, isValidChargeId, paymentSignedContent } from './protocol/authorization.ts';
import { FLOW } from './protocol/constants.ts';
import { verifyCredentialSignature } from './protocol/credential.ts';
import { debitIdOf, signDebit } from './protocol/debit.ts';
import { envelopeInfo, parseEnvelope } from './protocol/envelope.ts';
import type { AmountSource, ClockView, IssuerView, KeyStoreView, NfcSession, Policy, ReplayView, RevocationView } from './views.ts';

export interface DecisionInput {
  text: string;
  keys: KeyStoreView;
  issuers: IssuerView;
  revocations: RevocationView;
  replay: ReplayView;
  amount: AmountSource;
  clock: ClockView;
  policy: Policy;
}

export interface Accept {
  kind: 'accept';
  /** The signed binary debit record. */
  record: Uint8Array;
  debitId: string;
  walletKey: string;
  counter: number;
  amount: number;
  currency: string;
  /** The POS charge this debit pays, or null for a fixed price. */
  chargeId: string | null;
  flow: 'static' | 'nfc';
  /** The NFC session this code used; the caller erases it. */
  sessionKeyId?: string;
  /** Replay entries are kept until then. */
  credentialExpiresAtMs: number;
  acceptedAtMs: number;
  cardSerial: number;
}

export interface Decline {
  kind: 'decline';
  code: DeclineCode;
  /** Safe for logs: never a key, a plaintext or a full token. */
  detail: string;
  walletKey?: string;
  counter?: number;
}

export type Decision = Accept | Decline;

const decline = (code: DeclineCode, detail: string, a?: Authorization, walletKey?: string): Decline =>
  a && walletKey ? { kind: 'decline', code, detail, walletKey, counter: a.counter } : { kind: 'decline', code, detail };

export function decide(p: CryptoProvider, input: DecisionInput): Decision {
  try {
    return decideUnsafe(p, input);
  } catch (e) {
    // Defence in depth: every known path returns a Decline; an exception here is a bug, not a crash.
    return { kind: 'decline', code: DECLINE.MALFORMED, detail: `internal: ${e instanceof Error ? e.name : 'error'}` };
  }
}

function decideUnsafe(p: CryptoProvider, input: DecisionInput): Decision {
  const { keys, clock, policy } = input;

  // 1. Structure, version and suite.
  const parsed = parseEnvelope(input.text);
  if (!parsed.ok) return decline(parsed.code, parsed.detail);
  const env = parsed.envelope;

  // 2. Recipient key: a merchant key, or a live NFC session key.
  const kid = toHex(env.keyId);
  let session: NfcSession | undefined;
  let recipient: X25519PrivateKey | undefined = keys.decryptionKeys.get(kid);
  if (!recipient) {
    session = keys.sessions.get(kid);
    if (session) {
      if (session.expiresAtMs < clock.lowerMs) return decline(DECLINE.SESSION_EXPIRED, 'NFC session timed out');
      recipient = session.key;
    } else if (keys.sessions.recentlyClosed(kid)) {
      return decline(DECLINE.SESSION_EXPIRED, 'NFC session closed');
    } else {
      return decline(DECLINE.WRONG_MERCHANT, `no key ${kid}`);
    }
  }

  // 3. Decrypt (HPKE base mode; AAD = header, info binds version, suite and key id).
  const prepared = session ? undefined : keys.receivers?.get(kid);
  const plaintext = prepared
    ? prepared.open(env.enc, env.header, env.ciphertext)
    : hpkeOpen(p, recipient, env.enc, envelopeInfo(env.keyId), env.header, env.ciphertext);
  if (!plaintext) return decline(DECLINE.DECRYPT_FAILED, 'HPKE open failed');

  // 4. Plaintext structure.
  const a = decodeAuthorization(plaintext);
  if (!a) return decline(DECLINE.MALFORMED, 'authorization does not parse');
  const cred = a.credential;
  const walletKey = toHex(cred.walletPublicKey);

  // 5. Merchant binding: the card the wallet used must be one of this merchant's cards.
  const rosterEntry = keys.roster.get(a.cardSerial);
  if (!rosterEntry) return decline(DECLINE.WRONG_MERCHANT, `card ${a.cardSerial} is not this merchant's`, a, walletKey);
  if (!session && toHex(rosterEntry.card.encKeyId) !== kid) {
    return decline(DECLINE.WRONG_MERCHANT, 'card and key id disagree', a, walletKey);
  }
  if (session && session.cardSerial !== a.cardSerial) return decline(DECLINE.WRONG_MERCHANT, 'session card differs', a, walletKey);

  // 6. Credential: known issuer, valid issuer signature.
  const issuerKey = input.issuers.get(toHex(cred.issuerKeyId));
  if (!issuerKey) return decline(DECLINE.UNKNOWN_ISSUER, `issuer ${toHex(cred.issuerKeyId)}`, a, walletKey);
  if (!verifyCredentialSignature(p, issuerKey, cred)) return decline(DECLINE.BAD_CREDENTIAL, 'issuer signature', a, walletKey);

  // 7. Flow consistency, then the wallet signature over the canonical content.
  if (a.flow === FLOW.nfc && !session) return decline(DECLINE.CHALLENGE_MISMATCH, 'nfc flow without a session', a, walletKey);
  if (a.flow !== FLOW.nfc && session) return decline(DECLINE.CHALLENGE_MISMATCH, 'session key without nfc flow', a, walletKey);
  const signed = paymentSignedContent(p, a, rosterEntry.hash, env.header, session?.sessionPublicKey);
  if (!p.ed25519Verify(cred.walletPublicKey, signed, a.walletSignature)) {
    return decline(DECLINE.BAD_SIGNATURE, 'wallet signature', a, walletKey);
  }

  // 8. Credential validity and revocation.
  if (cred.notAfter * 1000 < clock.lowerMs) return decline(DECLINE.CREDENTIAL_EXPIRED, 'credential expired', a, walletKey);
  if (clock.lowerMs - input.revocations.issuedAtMs > policy.revocationMaxAgeMs) {
    return decline(DECLINE.REVOCATION_STALE, `revocation list v${input.revocations.version} too old`, a, walletKey);
  }
  if (input.revocations.isRevoked(walletKey)) return decline(DECLINE.REVOKED, 'wallet revoked', a, walletKey);

  // 9. NFC binding: the box's challenge and charge.
  if (session) {
    const nfc = a.nfc;
    if (!nfc || toHex(nfc.challenge) !== toHex(session.challenge) || nfc.chargeId !== session.chargeId) {
      return decline(DECLINE.CHALLENGE_MISMATCH, 'challenge or charge differs from the session', a, walletKey);
    }
  } else if (policy.requireChallenge) {
    return decline(DECLINE.CHALLENGE_REQUIRED, 'box requires an NFC challenge', a, walletKey);
  }

  // 10. Freshness of the code.
  const tsMs = a.timestamp * 1000;
  if (tsMs < clock.lowerMs - policy.freshnessMs) return decline(DECLINE.STALE, 'code too old', a, walletKey);
  if (tsMs > clock.upperMs + policy.futureSkewMs) return decline(DECLINE.STALE, 'code from the future', a, walletKey);

  // 11. Replay, keyed on (wallet key, counter).
  if (input.replay.has(walletKey, a.counter)) return decline(DECLINE.REPLAYED, `counter ${a.counter} seen`, a, walletKey);

  // 12. Currency and amount: the customer's signed amount must equal what this box charges.
  if (cred.currency !== a.currency) return decline(DECLINE.CURRENCY_MISMATCH, 'credential currency', a, walletKey);
  if (rosterEntry.card.currency !== a.currency) return decline(DECLINE.CURRENCY_MISMATCH, `card currency ${rosterEntry.card.currency}`, a, walletKey);
  if (a.amount === 0) return decline(DECLINE.AMOUNT_MISMATCH, 'zero amount', a, walletKey);
  const src = input.amount;
  if (src.kind === 'none') return decline(DECLINE.NO_CHARGE, 'no pending charge', a, walletKey);
  if (src.kind === 'charge' && !isValidChargeId(src.chargeId)) return decline(DECLINE.NO_CHARGE, 'pending charge id is not valid', a, walletKey);
  if (src.currency !== a.currency) return decline(DECLINE.CURRENCY_MISMATCH, `box charges ${src.currency}`, a, walletKey);
  if (src.kind === 'charge' && session && session.chargeId !== src.chargeId) {
    return decline(DECLINE.AMOUNT_MISMATCH, 'the charge changed after the tap', a, walletKey);
  }
  if (a.amount !== src.amount) return decline(DECLINE.AMOUNT_MISMATCH, `signed ${a.amount}, charge ${src.amount}`, a, walletKey);

  // 13. Offline limit: total per credential at this box since its last sync.
  const spent = input.replay.unsyncedSpend(walletKey, a.currency);
  if (spent + a.amount > cred.offlineLimit) return decline(DECLINE.OVER_LIMIT, 'offline limit reached', a, walletKey);

  // Accept: build and sign the debit record.
  const debitId = debitIdOf(p, cred.walletPublicKey, a.counter);
  // The record carries the charge the wallet signed: the POS charge, or for an NFC tap at a fixed
  // price the session's id ('FIXED'), so the acquirer's check against the signed content holds.
  const chargeId = src.kind === 'charge' ? src.chargeId : session ? session.chargeId : null;
  const acceptedAtMs = clock.lowerMs;
  const record = signDebit(
    {
      debitId,
      deviceKeyId: keys.deviceKeyId,
      acceptedAt: Math.floor(clock.lowerMs / 1000),
      clockLower: Math.floor(clock.lowerMs / 1000),
      clockUpper: Math.floor(Math.min(clock.upperMs, 0xffffffff * 1000) / 1000),
      revocationVersion: input.revocations.version,
      chargeId: chargeId ?? '',
      sessionPublicKey: session ? session.sessionPublicKey : new Uint8Array(0),
      header: env.header,
      authorization: a.bytes,
    },
    keys.device,
  );
  const accept: Accept = {
    kind: 'accept',
    record,
    debitId: toHex(debitId),
    walletKey,
    counter: a.counter,
    amount: a.amount,
    currency: a.currency,
    chargeId,
    flow: session ? 'nfc' : 'static',
    credentialExpiresAtMs: cred.notAfter * 1000,
    acceptedAtMs,
    cardSerial: a.cardSerial,
  };
  if (session) accept.sessionKeyId = kid;
  return accept;
}
