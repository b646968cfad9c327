/**
 * The upload executor over a real SQLite journal (temp file, reopened to simulate a restart) and a
 * fake acquirer that dedups like the contract says: (box, batchSeq) -> stored results, debitId -> settled once.
 * Debit "records" here are just utf8(debitId); the planner and the batch codec do not look inside.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { nobleProvider } from '../../device/core/crypto/noble.ts';
import { utf8 } from '../../device/core/encoding/bytes.ts';
import { BoxError } from '../../device/core/errors.ts';
import { decodeBatch, ENTRY, signVoid } from '../../device/core/protocol/batch.ts';
import { openSqliteJournal } from '../../device/journal/sqlite-journal.ts';
import type { Journal } from '../../device/journal/types.ts';
import { systemSyncTimers } from '../../device/sync/backoff.ts';
import type { BatchAck } from '../../device/sync/client.ts';
import { type BatchSender, OUTBOX_META_KEY, Uploader, type UploaderOptions } from '../../device/sync/uploader.ts';

const p = nobleProvider;
const device = p.ed25519Signer(new Uint8Array(32).fill(9));
const deviceKeyId = new Uint8Array(8).fill(1);
const T0 = Date.UTC(2026, 10, 25, 12);

class FakeAcquirer implements BatchSender {
  readonly batches = new Map<number, BatchAck>();
  readonly settled = new Map<string, number>();
  readonly voided = new Set<string>();
  readonly received: { batchSeq: number; bytes: Uint8Array }[] = [];
  /** Per call: 'ok', 'fail500' (before commit) or 'lose-ack' (commit, then the connection drops). */
  script: ('ok' | 'fail500' | 'lose-ack' | 'hang')[] = [];
  reject = new Set<string>();

  async uploadBatch(batchSeq: number, bytes: Uint8Array): Promise<BatchAck> {
    this.received.push({ batchSeq, bytes });
    const mode = this.script.shift() ?? 'ok';
    if (mode === 'fail500') throw new BoxError('SYNC_SERVER_ERROR', 'HTTP 500', { retryable: true });
    if (mode === 'hang') return new Promise(() => {});
    const ack = this.commit(batchSeq, bytes);
    if (mode === 'lose-ack') throw new BoxError('SYNC_NETWORK', 'ECONNRESET', { retryable: true });
    return ack;
  }

  private commit(batchSeq: number, bytes: Uint8Array): BatchAck {
    const stored = this.batches.get(batchSeq);
    if (stored) return stored;
    const b = decodeBatch(bytes);
    if (!b) throw new Error('fake acquirer: undecodable batch');
    const ack: BatchAck = { batchSeq, results: [], voids: [] };
    for (const e of b.entries) {
      if (e.type === ENTRY.void) {
        this.voided.add(toHexId(e.bytes));
        ack.voids.push({ debitId: toHexId(e.bytes), status: 'voided' });
        continue;
      }
      const id = utf8.decode(e.bytes);
      if (this.reject.has(id)) ack.results.push({ debitId: id, status: 'rejected', code: 'BAD_SIGNATURE' });
      else if (this.settled.has(id)) ack.results.push({ debitId: id, status: 'duplicate' });
      else {
        this.settled.set(id, batchSeq);
        ack.results.push({ debitId: id, status: 'settled' });
      }
    }
    this.batches.set(batchSeq, ack);
    return ack;
  }
}

function toHexId(voidBytes: Uint8Array): string {
  return Buffer.from(voidBytes.subarray(3, 19)).toString('hex');
}

let dir: string;
let journals: Journal[] = [];
const open = (): Journal => {
  const j = openSqliteJournal({ path: join(dir, 'journal.db'), now: () => T0 });
  journals.push(j);
  return j;
};

function addDebits(j: Journal, n: number, from = 0): string[] {
  const ids: string[] = [];
  for (let i = from; i < from + n; i++) {
    const debitId = i.toString(16).padStart(32, '0');
    j.commitAccept(
      {
        debitId,
        walletKey: 'aa'.repeat(32),
        counter: i,
        amount: 100,
        currency: 'EUR',
        chargeId: null,
        acceptedAtMs: T0 + i,
        cardSerial: '100',
        record: utf8.encode(debitId),
        credentialExpiresAtMs: T0 + 86400_000,
      },
      { scanKey: `scan-${i}`, atMs: T0 + i },
    );
    ids.push(debitId);
  }
  return ids;
}

function uploader(j: Journal, sender: BatchSender, over: Partial<UploaderOptions> = {}): Uploader {
  return new Uploader({ journal: j, sender, device, deviceKeyId, maxEntries: 4, random: () => 0.5, timers: systemSyncTimers, backoff: { baseMs: 1000, maxMs: 8000 }, ...over });
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sync-uploader-'));
  journals = [];
});
afterEach(() => {
  vi.useRealTimers();
  for (const j of journals) {
    try {
      j.close();
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('Uploader', () => {
  it('sends every pending debit once, in batches, and marks them settled', async () => {
    const j = open();
    const ids = addDebits(j, 10);
    const acq = new FakeAcquirer();
    const u = uploader(j, acq);
    await expect(u.run()).resolves.toMatchObject({ outcome: 'done' });
    expect(acq.received.map((r) => r.batchSeq)).toEqual([1, 2, 3]);
    expect([...acq.settled.keys()].sort()).toEqual(ids);
    expect(j.counts()).toMatchObject({ pending: 0, uploaded: 0, settled: 10 });
    expect(u.inFlight()).toEqual([]);
    expect(u.stats).toMatchObject({ batchesSent: 3, debitsSent: 10, settled: 10 });
    // a second run has nothing to do and sends nothing
    await u.run();
    expect(acq.received).toHaveLength(3);
  });

  it('retries a 500 with exponential backoff and jitter, then succeeds', async () => {
    vi.useFakeTimers();
    const j = open();
    addDebits(j, 2);
    const acq = new FakeAcquirer();
    acq.script = ['fail500', 'fail500', 'ok'];
    const u = uploader(j, acq, { random: () => 0 });
    const run = u.run();
    await vi.advanceTimersByTimeAsync(0);
    expect(acq.received).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(499); // first delay: 1000/2 + 0
    expect(acq.received).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(acq.received).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1000); // second delay: 2000/2
    await expect(run).resolves.toMatchObject({ outcome: 'done', attempts: 3 });
    expect(acq.received.map((r) => r.batchSeq)).toEqual([1, 1, 1]);
    expect(j.counts().settled).toBe(2);
  });

  it('gives up after maxAttempts; the batch stays in the outbox for the next round', async () => {
    vi.useFakeTimers();
    const j = open();
    addDebits(j, 1);
    const acq = new FakeAcquirer();
    acq.script = ['fail500', 'fail500'];
    const u = uploader(j, acq, { maxAttempts: 2 });
    const run = u.run();
    await vi.advanceTimersByTimeAsync(10_000);
    await expect(run).resolves.toMatchObject({ outcome: 'failed', error: { code: 'SYNC_SERVER_ERROR' } });
    expect(u.inFlight()).toHaveLength(1);
    await expect(u.run()).resolves.toMatchObject({ outcome: 'done' });
    expect(j.counts().settled).toBe(1);
  });

  it('ack lost after the commit: resends the SAME batchSeq and bytes; settled exactly once', async () => {
    vi.useFakeTimers();
    const j = open();
    addDebits(j, 3);
    const acq = new FakeAcquirer();
    acq.script = ['lose-ack'];
    const run = uploader(j, acq).run();
    await vi.advanceTimersByTimeAsync(10_000);
    await expect(run).resolves.toMatchObject({ outcome: 'done' });
    expect(acq.received).toHaveLength(2);
    expect(acq.received[1]?.batchSeq).toBe(acq.received[0]?.batchSeq);
    expect(acq.received[1]?.bytes).toEqual(acq.received[0]?.bytes);
    expect(acq.settled.size).toBe(3);
    expect(j.counts()).toMatchObject({ settled: 3, pending: 0, uploaded: 0 });
  });

  it('box killed mid-upload after the back end committed: a new uploader over the reopened journal resends the same batch', async () => {
    const j1 = open();
    const ids = addDebits(j1, 3);
    const acq = new FakeAcquirer();
    acq.script = ['hang']; // the back end commits nothing in 'hang'; commit by hand below, as if the ack was in the air
    void uploader(j1, acq).run();
    await vi.waitFor(() => expect(acq.received).toHaveLength(1));
    const sent = acq.received[0]!;
    await acq.uploadBatch(sent.batchSeq, sent.bytes); // the back end committed it
    j1.close(); // the box dies

    const j2 = open();
    expect(j2.counts()).toMatchObject({ uploaded: 3 });
    const u2 = uploader(j2, acq);
    expect(u2.inFlight()).toEqual([{ batchId: expect.any(String), batchSeq: sent.batchSeq, debitIds: ids }]);
    await expect(u2.run()).resolves.toMatchObject({ outcome: 'done' });
    expect(acq.received.at(-1)?.bytes).toEqual(sent.bytes);
    expect(j2.counts()).toMatchObject({ settled: 3, uploaded: 0, pending: 0 });
    expect(acq.settled.size).toBe(3);
  });

  it('crash between the outbox write and markUploaded: the debits are resent in their batch, not planned twice', async () => {
    const j1 = open();
    addDebits(j1, 2);
    const crashing: Journal = Object.create(j1, {
      markUploaded: {
        value: () => {
          throw new Error('power cut');
        },
      },
    });
    const acq = new FakeAcquirer();
    await expect(uploader(crashing, acq).run()).resolves.toMatchObject({ outcome: 'failed', error: { code: 'SYNC_INTERNAL' } });
    expect(acq.received).toHaveLength(0);
    expect(j1.counts().pending).toBe(2);
    const u2 = uploader(j1, acq);
    await u2.run();
    expect(acq.received.map((r) => r.batchSeq)).toEqual([1]);
    expect(j1.counts().settled).toBe(2);
  });

  it('never reuses a batchSeq across restarts', async () => {
    const j1 = open();
    addDebits(j1, 4);
    const acq = new FakeAcquirer();
    await uploader(j1, acq).run();
    j1.close();
    const j2 = open();
    addDebits(j2, 4, 100);
    await uploader(j2, acq).run();
    expect(acq.received.map((r) => r.batchSeq)).toEqual([1, 2]);
    expect(j2.getMeta(OUTBOX_META_KEY)).toMatchObject({ nextBatchSeq: 3, inFlight: [] });
  });

  it('applies rejections and duplicates; a voided debit goes up with its void record', async () => {
    const j = open();
    const [a, b, c] = addDebits(j, 3);
    const debitIdBytes = new Uint8Array(16).fill(0xab);
    const voidRec = signVoid(debitIdBytes, Math.floor(T0 / 1000), device);
    expect(j.voidDebit(c!, voidRec)).toBe('VOIDED');
    const acq = new FakeAcquirer();
    acq.reject.add(a!);
    acq.settled.set(b!, 99);
    const u = uploader(j, acq);
    await u.run();
    expect(j.getDebit(a!)).toMatchObject({ state: 'rejected', resultCode: 'BAD_SIGNATURE' });
    expect(j.getDebit(b!)).toMatchObject({ state: 'settled', resultCode: 'DUPLICATE' });
    const batch = decodeBatch(acq.received[0]!.bytes)!;
    expect(batch.entries.map((e) => e.type)).toEqual([ENTRY.debit, ENTRY.debit, ENTRY.debit, ENTRY.void]);
    expect(acq.voided.has('ab'.repeat(16))).toBe(true);
    expect(u.stats).toMatchObject({ rejected: 1, duplicate: 1, settled: 1, voided: 1 });
  });

  it('debits the ack does not answer go back to pending and travel again', async () => {
    vi.useFakeTimers();
    const j = open();
    const [a, b] = addDebits(j, 2);
    let first = true;
    const sender: BatchSender = {
      async uploadBatch(batchSeq) {
        const results = first ? [{ debitId: a!, status: 'settled' as const }] : [{ debitId: b!, status: 'settled' as const }];
        first = false;
        return { batchSeq, results, voids: [] };
      },
    };
    const run = uploader(j, sender).run();
    await vi.advanceTimersByTimeAsync(10_000);
    await expect(run).resolves.toMatchObject({ outcome: 'done' });
    expect(j.counts()).toMatchObject({ settled: 2, pending: 0, uploaded: 0 });
  });

  it('reports the backlog: count and the oldest accepted time, pending or in flight', async () => {
    const j = open();
    addDebits(j, 2);
    const acq = new FakeAcquirer();
    acq.script = ['hang'];
    const u = uploader(j, acq, { maxEntries: 2 });
    expect(u.backlog()).toEqual({ count: 2, oldestAcceptedAtMs: T0 });
    void u.run();
    await vi.waitFor(() => expect(acq.received).toHaveLength(1));
    expect(u.backlog()).toEqual({ count: 2, oldestAcceptedAtMs: T0 });
    u.stop();
  });
});
