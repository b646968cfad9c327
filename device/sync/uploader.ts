/**
 * The upload executor: runs the steps of the pure planner (device/core/reconcile-plan.ts) against
 * the journal and the back end, with exponential backoff and jitter between failed tries.
 *
 * INVARIANTS
 * - A batch is signed once. Its bytes, batchSeq and debit ids are written to journal meta
 *   ('sync.outbox', one atomic write together with the next batchSeq) BEFORE its debits are marked
 *   uploaded and BEFORE a byte goes on the wire. So after a crash at any point, including after
 *   the back end committed the batch but before the box saw the ack, the same bytes are resent
 *   with the same batchSeq and the back end answers from its stored results.
 * - A batchSeq is never reused: the next one is persisted in the same write as the batch.
 * - A batch leaves the outbox only after its results are applied to the journal (applyResults is
 *   idempotent, so a crash between the two repeats harmlessly). Debits the ack did not answer go
 *   back to pending (requeue) and travel again in a later batch; the back end dedups them.
 * - One drain at a time: `run()` while a run is in progress joins the running one.
 */
import type { Log } from '../../drivers/common/log.ts';
import { silentLog } from '../../drivers/common/log.ts';
import type { Ed25519Signer } from '../core/crypto/provider.ts';
import { fromHex, toHex } from '../core/encoding/bytes.ts';
import { BoxError, isBoxError } from '../core/errors.ts';
import { MAX_BATCH_ENTRIES, signBatch } from '../core/protocol/batch.ts';
import { type InFlightBatch, planUpload } from '../core/reconcile-plan.ts';
import type { Journal, MetaValue } from '../journal/types.ts';
import { Backoff, type SyncTimers } from './backoff.ts';
import type { BatchAck } from './client.ts';

export const OUTBOX_META_KEY = 'sync.outbox';

interface StoredBatch extends InFlightBatch {
  bytesHex: string;
}

interface Outbox {
  nextBatchSeq: number;
  inFlight: StoredBatch[];
}

export interface BatchSender {
  uploadBatch(batchSeq: number, bytes: Uint8Array): Promise<BatchAck>;
}

export interface UploaderOptions {
  journal: Journal;
  sender: BatchSender;
  device: Ed25519Signer;
  deviceKeyId: Uint8Array;
  /** Entries per batch, default 500 (protocol maximum 1000). */
  maxEntries?: number;
  /** Bytes per batch, default 128 KiB. */
  maxBytes?: number;
  /** Tries per run before giving up until the next round, default 5. */
  maxAttempts?: number;
  backoff?: { baseMs: number; maxMs: number };
  random: () => number;
  timers: SyncTimers;
  log?: Log;
}

export interface UploadStats {
  batchesSent: number;
  resends: number;
  /** Debits carried in sent batches (a resent debit counts again: it cost bytes again). */
  debitsSent: number;
  /** Signed batch bytes (HTTP body), all sends and resends. */
  bodyBytes: number;
  settled: number;
  duplicate: number;
  rejected: number;
  voided: number;
}

export interface RunResult {
  /** 'done': nothing left to send; 'failed': gave up for this round (see error). */
  outcome: 'done' | 'failed' | 'stopped';
  error?: BoxError;
  attempts: number;
}

export class Uploader {
  readonly stats: UploadStats = { batchesSent: 0, resends: 0, debitsSent: 0, bodyBytes: 0, settled: 0, duplicate: 0, rejected: 0, voided: 0 };
  private readonly backoff: Backoff;
  private readonly log: Log;
  private running: Promise<RunResult> | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  private sleepHandle: unknown;

  constructor(private readonly o: UploaderOptions) {
    this.backoff = new Backoff({ ...(o.backoff ?? { baseMs: 2000, maxMs: 300_000 }), random: o.random });
    this.log = o.log ?? silentLog;
  }

  /** Debits waiting for an ack: pending plus in flight. */
  backlog(): { count: number; oldestAcceptedAtMs: number | undefined } {
    const c = this.o.journal.counts();
    const first = this.o.journal.pendingDebits(1)[0];
    let oldest = first?.acceptedAtMs;
    for (const b of this.load().inFlight) {
      const id = b.debitIds[0];
      const d = id === undefined ? undefined : this.o.journal.getDebit(id);
      if (d && (oldest === undefined || d.acceptedAtMs < oldest)) oldest = d.acceptedAtMs;
    }
    return { count: c.pending + c.uploaded, oldestAcceptedAtMs: oldest };
  }

  inFlight(): readonly InFlightBatch[] {
    return this.load().inFlight.map(({ batchId, batchSeq, debitIds }) => ({ batchId, batchSeq, debitIds }));
  }

  /** Send until nothing is left, retrying retryable failures with backoff; never rejects. */
  run(): Promise<RunResult> {
    if (this.running) return this.running;
    this.stopped = false;
    this.running = this.runLoop().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Abandons a backoff wait; the current request still finishes (its batch stays in the outbox). */
  stop(): void {
    this.stopped = true;
    if (this.sleepHandle !== undefined) this.o.timers.clearTimeout(this.sleepHandle);
    this.wake?.();
  }

  private async runLoop(): Promise<RunResult> {
    const maxAttempts = this.o.maxAttempts ?? 5;
    let attempts = 0;
    for (;;) {
      if (this.stopped) return { outcome: 'stopped', attempts };
      attempts++;
      try {
        await this.drainOnce();
        this.backoff.reset();
        return { outcome: 'done', attempts };
      } catch (e) {
        const err = isBoxError(e) ? e : new BoxError('SYNC_INTERNAL', `Uploader.run: ${(e as Error)?.message ?? String(e)}`, { cause: e });
        this.log.warn({ event: 'sync.upload-failed', code: err.code, retryable: err.retryable, attempt: attempts }, err.message);
        if (!err.retryable || attempts >= maxAttempts) return { outcome: 'failed', error: err, attempts };
        await this.sleep(this.backoff.next());
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = null;
        this.sleepHandle = undefined;
        resolve();
      };
      this.sleepHandle = this.o.timers.setTimeout(() => this.wake?.(), ms);
    });
  }

  /** Runs plans until the planner says idle. Throws BoxError on the first failed request. */
  private async drainOnce(): Promise<void> {
    const maxEntries = Math.min(this.o.maxEntries ?? 500, MAX_BATCH_ENTRIES);
    const maxBytes = this.o.maxBytes ?? 128 * 1024;
    for (;;) {
      const outbox = this.load();
      const pending = this.o.journal.pendingDebits(maxEntries);
      const steps = planUpload({ pending, inFlight: outbox.inFlight, nextBatchSeq: outbox.nextBatchSeq, maxEntries, maxBytes });
      const step = steps[0];
      if (!step || step.kind === 'idle') return;
      if (this.stopped) return;
      if (step.kind === 'resend') {
        const stored = outbox.inFlight.find((b) => b.batchSeq === step.batchSeq) as StoredBatch;
        // Debits still pending after a crash between the outbox write and markUploaded.
        this.o.journal.markUploaded(stored.debitIds, stored.batchId);
        this.stats.resends++;
        await this.sendStored(stored);
      } else {
        const bytes = signBatch(this.o.deviceKeyId, step.batchSeq, step.entries, this.o.device);
        const stored: StoredBatch = { batchId: `b${step.batchSeq}-${toHex(this.o.deviceKeyId).slice(0, 8)}`, batchSeq: step.batchSeq, debitIds: step.debitIds, bytesHex: toHex(bytes) };
        this.save({ nextBatchSeq: step.batchSeq + 1, inFlight: [...outbox.inFlight, stored] });
        this.o.journal.markUploaded(stored.debitIds, stored.batchId);
        await this.sendStored(stored, bytes);
      }
    }
  }

  /** `signed`: the bytes just signed (= fromHex(b.bytesHex)), which spares decoding them again. */
  private async sendStored(b: StoredBatch, signed?: Uint8Array): Promise<void> {
    const bytes = signed ?? fromHex(b.bytesHex);
    this.stats.batchesSent++;
    this.stats.debitsSent += b.debitIds.length;
    this.stats.bodyBytes += bytes.length;
    const ack = await this.o.sender.uploadBatch(b.batchSeq, bytes);
    const ids = new Set(b.debitIds);
    const results = ack.results.filter((r) => ids.has(r.debitId));
    const summary = this.o.journal.applyResults(results);
    for (const r of results) this.stats[r.status]++;
    const answered = new Set(results.map((r) => r.debitId));
    const unanswered = b.debitIds.filter((id) => !answered.has(id));
    if (unanswered.length > 0) {
      const moved = this.o.journal.requeue(b.batchId);
      this.log.warn({ event: 'sync.unanswered', batchSeq: b.batchSeq, count: unanswered.length, requeued: moved }, 'ack left debits unanswered; they go again');
    }
    for (const v of ack.voids) {
      if (v.status === 'voided') this.stats.voided++;
      else this.log.warn({ event: 'sync.void-rejected', debitId: v.debitId, code: v.code }, 'the acquirer refused a void');
    }
    const rejected = results.filter((r) => r.status === 'rejected');
    if (rejected.length > 0) this.log.warn({ event: 'sync.rejected', batchSeq: b.batchSeq, count: rejected.length, codes: [...new Set(rejected.map((r) => r.code))] }, 'the acquirer rejected debits');
    // Only now may the batch leave the outbox.
    const now = this.load();
    this.save({ nextBatchSeq: now.nextBatchSeq, inFlight: now.inFlight.filter((x) => x.batchSeq !== b.batchSeq) });
    this.log.info({ event: 'sync.batch-acked', batchSeq: b.batchSeq, debits: b.debitIds.length, bytes: bytes.length, ...summary }, 'batch acknowledged');
    // Stop this drain so a back end that never answers some debit cannot keep us in a tight loop.
    if (unanswered.length > 0) {
      throw new BoxError('SYNC_BAD_REPLY', `Uploader: ack of batch ${b.batchSeq} left ${unanswered.length} debits unanswered`, { retryable: true });
    }
  }

  private load(): Outbox {
    const raw = this.o.journal.getMeta(OUTBOX_META_KEY) as unknown;
    if (!raw || typeof raw !== 'object') return { nextBatchSeq: 1, inFlight: [] };
    const o = raw as Partial<Outbox>;
    return { nextBatchSeq: typeof o.nextBatchSeq === 'number' ? o.nextBatchSeq : 1, inFlight: Array.isArray(o.inFlight) ? o.inFlight : [] };
  }

  private save(o: Outbox): void {
    this.o.journal.setMeta(OUTBOX_META_KEY, o as unknown as MetaValue);
  }
}
