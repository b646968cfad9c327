/**
 * The durable journal of the box, behind a small synchronous interface.
 *
 * INVARIANTS (every implementation):
 * - `commitAccept` returns only after the debit, its replay entry and the last outcome are
 *   durable together (one transaction, fsynced). The box shows green only after it returns.
 * - A debit is keyed by (walletKey, counter); a second debit for the same pair is refused with
 *   BoxError 'JOURNAL_DUPLICATE' and nothing of it is written. Never dedupe on signature bytes.
 * - Any storage failure (disk full, I/O error, read-only, closed handle) is BoxError 'JOURNAL_IO':
 *   the box shows a fault, never green.
 * - Debit state only moves forward: pending -> uploaded -> settled | rejected
 *   (pending -> settled | rejected directly when an ack arrives before `markUploaded`).
 *   `requeue` is the one way back (uploaded -> pending) for a batch whose results never came.
 */

export const DEBIT_STATES = ['pending', 'uploaded', 'settled', 'rejected'] as const;
export type DebitState = (typeof DEBIT_STATES)[number];

export const CHARGE_STATES = ['pending', 'paid', 'cancelled', 'declined'] as const;
export type ChargeState = (typeof CHARGE_STATES)[number];

/** What the box writes when it accepts a payment. */
export interface DebitInsert {
  /** Hex id derived from (wallet key, counter) by the core. */
  debitId: string;
  /** Wallet public key, lowercase hex. */
  walletKey: string;
  /** Wallet counter: a non-negative safe integer. */
  counter: number;
  /** Integer minor units (cents), > 0. */
  amount: number;
  /** ISO 4217 code, e.g. "EUR". */
  currency: string;
  chargeId: string | null;
  acceptedAtMs: number;
  cardSerial: string;
  /** The signed binary debit record, uploaded as is. */
  record: Uint8Array;
  /** The replay entry lives until the credential expires (then the core declines EXPIRED anyway). */
  credentialExpiresAtMs: number;
}

/** The scan this outcome answers: `scanKey` identifies the scanned text (e.g. a hash of it). */
export interface OutcomeInsert {
  scanKey: string;
  atMs: number;
}

export interface DeclineInsert extends OutcomeInsert {
  /** Stable reason code, e.g. 'REPLAYED', 'EXPIRED', 'OVER_LIMIT'. */
  code: string;
}

export interface LastOutcome {
  kind: 'accept' | 'decline';
  scanKey: string;
  code?: string;
  debitId?: string;
  atMs: number;
}

export interface DebitRow {
  debitId: string;
  walletKey: string;
  counter: number;
  amount: number;
  currency: string;
  chargeId: string | null;
  acceptedAtMs: number;
  cardSerial: string;
  record: Uint8Array;
  state: DebitState;
  batchId: string | null;
  /** Result code from the acquirer ('DUPLICATE' for a duplicate ack, the reject code otherwise). */
  resultCode: string | null;
  /** Present when the merchant voided the debit before upload; uploaded together with `record`. */
  voidRecord: Uint8Array | null;
}

export interface DebitResult {
  debitId: string;
  status: 'settled' | 'duplicate' | 'rejected';
  code?: string;
}

export interface ApplyResultsSummary {
  applied: number;
  /** Results for debits already settled or rejected (idempotent re-delivery). */
  alreadyFinal: number;
  /** Results for debit ids the journal does not hold. */
  unknown: number;
}

export type VoidResult = 'VOIDED' | 'NOT_FOUND' | 'NOT_PENDING' | 'ALREADY_VOIDED';

export interface OutboxCounts {
  pending: number;
  uploaded: number;
  settled: number;
  rejected: number;
}

export interface Charge {
  chargeId: string;
  amount: number;
  currency: string;
  state: ChargeState;
  debitId: string | null;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface PruneCounts {
  debits: number;
  replay: number;
  outcomes: number;
}

export interface CurrencyTotal {
  count: number;
  amount: number;
}

/** JSON-compatible value stored in the meta table. */
export type MetaValue = null | boolean | number | string | MetaValue[] | { [key: string]: MetaValue };

export interface Journal {
  // --- payment path ---
  commitAccept(debit: DebitInsert, outcome: OutcomeInsert): void;
  commitDecline(decline: DeclineInsert): void;
  hasReplay(walletKey: string, counter: number): boolean;
  /** Sum of this wallet's debits in `currency` that are pending or uploaded and not voided. */
  unsyncedSpend(walletKey: string, currency: string): number;
  lastOutcome(scanKey: string): LastOutcome | undefined;
  /** The most recently written outcome (by write order, not by clock). */
  latestOutcome(): LastOutcome | undefined;
  /** The newest declines first, at most `limit`. */
  recentDeclines(limit: number): { code: string; scanKey: string; atMs: number }[];

  // --- outbox ---
  /** State 'pending', in insertion order. */
  pendingDebits(limit: number): DebitRow[];
  /** pending -> uploaded; returns how many rows moved. */
  markUploaded(debitIds: readonly string[], batchId: string): number;
  /** uploaded -> pending for a batch whose results never came; returns how many rows moved. */
  requeue(batchId: string): number;
  applyResults(results: readonly DebitResult[]): ApplyResultsSummary;
  counts(): OutboxCounts;
  rejectedDebits(limit: number): DebitRow[];
  getDebit(debitId: string): DebitRow | undefined;
  voidDebit(debitId: string, voidRecord: Uint8Array): VoidResult;

  // --- charges (POS link) ---
  putCharge(charge: Charge): void;
  getCharge(chargeId: string): Charge | undefined;
  /** Returns false when the charge does not exist. */
  setChargeState(chargeId: string, state: ChargeState, atMs: number, debitId?: string | null): boolean;

  // --- meta ---
  getMeta(key: string): MetaValue | undefined;
  setMeta(key: string, value: MetaValue): void;

  // --- housekeeping ---
  prune(nowMs: number): PruneCounts;
  /** Per currency, accepted and not voided or rejected, acceptedAtMs in [fromMs, toMs). */
  totals(fromMs: number, toMs: number): Record<string, CurrencyTotal>;
  /** 'ok' when healthy (PRAGMA integrity_check). */
  integrityCheck(): string;
  close(): void;
}
