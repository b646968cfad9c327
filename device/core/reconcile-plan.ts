/**
 * The reconcile planner: what the journal holds that the acquirer has not acknowledged -> which
 * batches to send next. Pure (no I/O, no clock); the executor in device/sync/uploader.ts runs the
 * steps, in order.
 *
 * INVARIANTS (checked by test/unit/reconcile-plan.test.ts):
 * - In-flight batches (persisted before they were sent, ack not yet applied) come first, in
 *   batchSeq order, as `resend` steps naming the SAME batchSeq: the executor resends the SAME
 *   stored bytes, so the acquirer answers idempotently from its stored results.
 * - A pending debit that is already part of an in-flight batch is never planned again (a crash
 *   between persisting the batch and marking its debits uploaded leaves them pending).
 * - Every other pending debit appears in exactly one `send` step, in journal order; a debit and
 *   its void record travel in the same batch, the debit entry first.
 * - `send` steps take consecutive batchSeqs starting at max(nextBatchSeq, 1 + highest in-flight
 *   batchSeq); a batchSeq is never planned twice.
 * - A batch holds at most `maxEntries` entries and at most `maxBytes` encoded bytes, except that
 *   one debit (with its void) too large for the byte budget still gets a batch of its own.
 * - Nothing to do -> exactly one `idle` step.
 */
import { type BatchEntry, ENTRY } from './protocol/batch.ts';
import { KEY_ID_LENGTH } from './protocol/constants.ts';

/** magic 2 | version 1 | deviceKeyId | batchSeq u32 | count u16 | deviceSignature 64 (protocol/batch.ts). */
export const BATCH_OVERHEAD_BYTES = 2 + 1 + KEY_ID_LENGTH + 4 + 2 + 64;
/** entryType u8 | length u16 (bytes16), before the entry bytes. */
export const ENTRY_OVERHEAD_BYTES = 1 + 2;

export interface PlanDebit {
  debitId: string;
  record: Uint8Array;
  voidRecord: Uint8Array | null;
}

export interface InFlightBatch {
  batchId: string;
  batchSeq: number;
  debitIds: readonly string[];
}

export interface PlanState {
  /** Journal state 'pending', in insertion order. */
  pending: readonly PlanDebit[];
  inFlight: readonly InFlightBatch[];
  /** The next unused batch sequence number (>= 1). */
  nextBatchSeq: number;
  /** At most this many entries per batch (>= 2, so a debit and its void fit). */
  maxEntries: number;
  /** At most this many bytes per encoded batch. */
  maxBytes: number;
}

export type PlannedEntry = BatchEntry;

export type Step =
  | { kind: 'resend'; batchId: string; batchSeq: number; debitIds: readonly string[] }
  | { kind: 'send'; batchSeq: number; debitIds: string[]; entries: PlannedEntry[]; encodedBytes: number }
  | { kind: 'idle' };

function entriesOf(d: PlanDebit): PlannedEntry[] {
  const out: PlannedEntry[] = [{ type: ENTRY.debit, bytes: d.record }];
  if (d.voidRecord) out.push({ type: ENTRY.void, bytes: d.voidRecord });
  return out;
}

function sizeOf(entries: readonly PlannedEntry[]): number {
  let n = 0;
  for (const e of entries) n += ENTRY_OVERHEAD_BYTES + e.bytes.length;
  return n;
}

export function planUpload(state: PlanState): Step[] {
  const maxEntries = Math.max(2, Math.floor(state.maxEntries));
  const steps: Step[] = [];
  const inFlight = [...state.inFlight].sort((a, b) => a.batchSeq - b.batchSeq);
  const taken = new Set<string>();
  let seq = Math.max(1, Math.floor(state.nextBatchSeq));
  for (const b of inFlight) {
    steps.push({ kind: 'resend', batchId: b.batchId, batchSeq: b.batchSeq, debitIds: b.debitIds });
    for (const id of b.debitIds) taken.add(id);
    seq = Math.max(seq, b.batchSeq + 1);
  }

  let cur: { debitIds: string[]; entries: PlannedEntry[]; bytes: number } | null = null;
  const flush = (): void => {
    if (cur && cur.debitIds.length > 0) {
      steps.push({ kind: 'send', batchSeq: seq++, debitIds: cur.debitIds, entries: cur.entries, encodedBytes: cur.bytes });
    }
    cur = null;
  };
  for (const d of state.pending) {
    if (taken.has(d.debitId)) continue;
    taken.add(d.debitId);
    const add = entriesOf(d);
    const addBytes = sizeOf(add);
    if (cur !== null) {
      const c: { entries: PlannedEntry[]; bytes: number } = cur;
      if (c.entries.length + add.length > maxEntries || c.bytes + addBytes > state.maxBytes) flush();
    }
    if (cur === null) cur = { debitIds: [], entries: [], bytes: BATCH_OVERHEAD_BYTES };
    const c: { debitIds: string[]; entries: PlannedEntry[]; bytes: number } = cur;
    c.debitIds.push(d.debitId);
    c.entries.push(...add);
    c.bytes += addBytes;
  }
  flush();
  if (steps.length === 0) steps.push({ kind: 'idle' });
  return steps;
}
