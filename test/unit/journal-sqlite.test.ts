import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BoxError } from '../../device/core/errors.ts';
import { openSqliteJournal } from '../../device/journal/sqlite-journal.ts';
import type { SqliteJournal, SqliteJournalOptions } from '../../device/journal/sqlite-journal.ts';
import type { DebitInsert } from '../../device/journal/types.ts';

const DAY = 24 * 3600 * 1000;
const T0 = 1_750_000_000_000;
const WALLET_A = 'aa'.repeat(32);
const WALLET_B = 'bb'.repeat(32);

function debit(counter: number, over: Partial<DebitInsert> = {}): DebitInsert {
  const walletKey = over.walletKey ?? WALLET_A;
  return {
    debitId: `${walletKey.slice(0, 8)}${counter.toString(16).padStart(8, '0')}`,
    walletKey,
    counter,
    amount: 250,
    currency: 'EUR',
    chargeId: null,
    acceptedAtMs: T0 + counter,
    cardSerial: 'card-1',
    record: new Uint8Array([1, 2, 3, counter & 0xff]),
    credentialExpiresAtMs: T0 + 10 * DAY,
    ...over,
  };
}

function expectCode(fn: () => unknown, code: string): BoxError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BoxError);
    expect((e as BoxError).code).toBe(code);
    return e as BoxError;
  }
  throw new Error(`expected BoxError ${code}, nothing was thrown`);
}

let dir: string;
let dbPath: string;
const open: SqliteJournal[] = [];
function openJ(over: Partial<SqliteJournalOptions> = {}): SqliteJournal {
  const j = openSqliteJournal({ path: dbPath, now: () => T0 + DAY, ...over });
  open.push(j);
  return j;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'journal-'));
  dbPath = path.join(dir, 'journal.db');
});
afterEach(() => {
  for (const j of open.splice(0)) j.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SqliteJournal: payment path', () => {
  it('sets WAL, synchronous=FULL, foreign keys and a busy timeout on the connection', () => {
    const s = openJ({ busyTimeoutMs: 1234 }).settings();
    expect(s).toMatchObject({ journalMode: 'wal', synchronous: 2, foreignKeys: true, busyTimeoutMs: 1234, userVersion: 3 });
  });

  it('commits an accept and reads back the debit, the replay entry and the outcome', () => {
    const j = openJ();
    const d = debit(7, { chargeId: 'ch-1' });
    j.commitAccept(d, { scanKey: 'scan-7', atMs: T0 + 7 });
    expect(j.hasReplay(WALLET_A, 7)).toBe(true);
    expect(j.hasReplay(WALLET_A, 8)).toBe(false);
    expect(j.hasReplay(WALLET_B, 7)).toBe(false);
    expect(j.lastOutcome('scan-7')).toEqual({ kind: 'accept', scanKey: 'scan-7', debitId: d.debitId, atMs: T0 + 7 });
    expect(j.latestOutcome()?.debitId).toBe(d.debitId);
    const [row] = j.pendingDebits(10);
    expect(row).toEqual({
      debitId: d.debitId,
      walletKey: WALLET_A,
      counter: 7,
      amount: 250,
      currency: 'EUR',
      chargeId: 'ch-1',
      acceptedAtMs: T0 + 7,
      cardSerial: 'card-1',
      record: d.record,
      state: 'pending',
      batchId: null,
      resultCode: null,
      voidRecord: null,
    });
    expect(j.unsyncedSpend(WALLET_A, 'EUR')).toBe(250);
    expect(j.unsyncedSpend(WALLET_A, 'USD')).toBe(0);
    expect(j.unsyncedSpend(WALLET_B, 'EUR')).toBe(0);
  });

  it('keeps everything after close and reopen', () => {
    const j1 = openJ();
    j1.commitAccept(debit(1), { scanKey: 's1', atMs: T0 + 1 });
    j1.commitDecline({ scanKey: 's2', code: 'EXPIRED', atMs: T0 + 2 });
    j1.setMeta('lastGoodTimeMs', T0);
    j1.putCharge({ chargeId: 'c1', amount: 250, currency: 'EUR', state: 'pending', debitId: null, createdAtMs: T0, updatedAtMs: T0 });
    j1.close();
    const j2 = openJ();
    expect(j2.hasReplay(WALLET_A, 1)).toBe(true);
    expect(j2.pendingDebits(10).map((r) => r.counter)).toEqual([1]);
    expect(j2.latestOutcome()).toEqual({ kind: 'decline', scanKey: 's2', code: 'EXPIRED', atMs: T0 + 2 });
    expect(j2.lastOutcome('s1')?.kind).toBe('accept');
    expect(j2.getMeta('lastGoodTimeMs')).toBe(T0);
    expect(j2.getCharge('c1')?.state).toBe('pending');
    expect(j2.integrityCheck()).toBe('ok');
  });

  it('refuses a second debit for the same (walletKey, counter) with JOURNAL_DUPLICATE and writes nothing of it', () => {
    const j = openJ();
    j.commitAccept(debit(3), { scanKey: 'first', atMs: T0 });
    // different debit id, different signature bytes, same (wallet, counter)
    const again = debit(3, { debitId: 'ff00ff00', record: new Uint8Array([9, 9, 9]), amount: 999 });
    expectCode(() => j.commitAccept(again, { scanKey: 'second', atMs: T0 + 5 }), 'JOURNAL_DUPLICATE');
    expect(j.getDebit('ff00ff00')).toBeUndefined();
    expect(j.lastOutcome('second')).toBeUndefined();
    expect(j.latestOutcome()?.scanKey).toBe('first');
    expect(j.counts()).toEqual({ pending: 1, uploaded: 0, settled: 0, rejected: 0 });
    expect(j.unsyncedSpend(WALLET_A, 'EUR')).toBe(250);
  });

  it('refuses a duplicate even after the original debit was pruned (replay entry still there)', () => {
    const j = openJ({ retentionMs: DAY });
    j.commitAccept(debit(4), { scanKey: 's', atMs: T0 });
    j.applyResults([{ debitId: debit(4).debitId, status: 'settled' }]);
    expect(j.prune(T0 + 2 * DAY)).toEqual({ debits: 1, replay: 0, outcomes: 0 });
    expect(j.getDebit(debit(4).debitId)).toBeUndefined();
    expect(j.hasReplay(WALLET_A, 4)).toBe(true);
    expectCode(() => j.commitAccept(debit(4), { scanKey: 's', atMs: T0 + 2 * DAY }), 'JOURNAL_DUPLICATE');
  });

  it('rejects malformed inserts with JOURNAL_INVALID before touching the database', () => {
    const j = openJ();
    expectCode(() => j.commitAccept(debit(1, { amount: 1.5 }), { scanKey: 's', atMs: T0 }), 'JOURNAL_INVALID');
    expectCode(() => j.commitAccept(debit(1, { amount: 0 }), { scanKey: 's', atMs: T0 }), 'JOURNAL_INVALID');
    expectCode(() => j.commitAccept(debit(1, { walletKey: 'XYZ' }), { scanKey: 's', atMs: T0 }), 'JOURNAL_INVALID');
    expectCode(() => j.commitAccept(debit(1, { currency: 'eur' }), { scanKey: 's', atMs: T0 }), 'JOURNAL_INVALID');
    expectCode(() => j.commitAccept(debit(1, { record: new Uint8Array() }), { scanKey: 's', atMs: T0 }), 'JOURNAL_INVALID');
    expect(j.counts().pending).toBe(0);
  });

  it('keeps only the last N declines and bounds the outcome table', () => {
    const j = openJ({ declineLogSize: 5, outcomeLogSize: 3 });
    for (let i = 0; i < 12; i++) j.commitDecline({ scanKey: `s${i}`, code: i % 2 ? 'EXPIRED' : 'MALFORMED', atMs: T0 + i });
    const recent = j.recentDeclines(100);
    expect(recent.map((d) => d.scanKey)).toEqual(['s11', 's10', 's9', 's8', 's7']);
    expect(j.lastOutcome('s11')?.code).toBe('EXPIRED');
    expect(j.lastOutcome('s10')?.code).toBe('MALFORMED');
    expect(j.lastOutcome('s9')?.code).toBe('EXPIRED');
    expect(j.lastOutcome('s8')).toBeUndefined();
  });

  it('latestOutcome follows write order, not the clock; a repeated scan moves to the front', () => {
    const j = openJ();
    j.commitDecline({ scanKey: 'x', code: 'EXPIRED', atMs: T0 + 100 });
    j.commitDecline({ scanKey: 'y', code: 'REPLAYED', atMs: T0 + 50 }); // clock went back
    expect(j.latestOutcome()?.scanKey).toBe('y');
    j.commitDecline({ scanKey: 'x', code: 'EXPIRED', atMs: T0 + 60 });
    expect(j.latestOutcome()?.scanKey).toBe('x');
  });
});

describe('SqliteJournal: outbox', () => {
  it('moves debits pending -> uploaded -> settled | rejected, in insertion order', () => {
    const j = openJ();
    for (const c of [5, 1, 9, 2]) j.commitAccept(debit(c), { scanKey: `s${c}`, atMs: T0 });
    expect(j.pendingDebits(10).map((r) => r.counter)).toEqual([5, 1, 9, 2]);
    expect(j.pendingDebits(2).map((r) => r.counter)).toEqual([5, 1]);
    const ids = [5, 1, 9].map((c) => debit(c).debitId);
    expect(j.markUploaded([...ids, 'deadbeef'], 'batch-1')).toBe(3);
    expect(j.markUploaded(ids, 'batch-2')).toBe(0); // only from pending
    expect(j.counts()).toEqual({ pending: 1, uploaded: 3, settled: 0, rejected: 0 });
    expect(j.getDebit(ids[0]!)?.batchId).toBe('batch-1');
    expect(j.unsyncedSpend(WALLET_A, 'EUR')).toBe(4 * 250);

    const sum = j.applyResults([
      { debitId: ids[0]!, status: 'settled' },
      { debitId: ids[1]!, status: 'duplicate' },
      { debitId: ids[2]!, status: 'rejected', code: 'BAD_SIGNATURE' },
      { debitId: 'abcdef', status: 'settled' },
    ]);
    expect(sum).toEqual({ applied: 3, alreadyFinal: 0, unknown: 1 });
    expect(j.counts()).toEqual({ pending: 1, uploaded: 0, settled: 2, rejected: 1 });
    expect(j.getDebit(ids[1]!)?.resultCode).toBe('DUPLICATE');
    expect(j.rejectedDebits(10).map((r) => [r.counter, r.resultCode])).toEqual([[9, 'BAD_SIGNATURE']]);
    expect(j.unsyncedSpend(WALLET_A, 'EUR')).toBe(250);
    // re-delivered results do not move final rows
    expect(j.applyResults([{ debitId: ids[2]!, status: 'settled' }])).toEqual({ applied: 0, alreadyFinal: 1, unknown: 0 });
    expect(j.getDebit(ids[2]!)?.state).toBe('rejected');
  });

  it('requeues an uploaded batch whose results never came', () => {
    const j = openJ();
    j.commitAccept(debit(1), { scanKey: 's', atMs: T0 });
    j.markUploaded([debit(1).debitId], 'b1');
    expect(j.requeue('other')).toBe(0);
    expect(j.requeue('b1')).toBe(1);
    expect(j.pendingDebits(10)[0]?.batchId).toBeNull();
  });

  it('voids a debit only while it is pending', () => {
    const j = openJ();
    j.commitAccept(debit(1), { scanKey: 's1', atMs: T0 });
    j.commitAccept(debit(2), { scanKey: 's2', atMs: T0 });
    const voidRec = new Uint8Array([0xee, 1]);
    expect(j.voidDebit(debit(1).debitId, voidRec)).toBe('VOIDED');
    expect(j.voidDebit(debit(1).debitId, voidRec)).toBe('ALREADY_VOIDED');
    expect(j.voidDebit('0123', voidRec)).toBe('NOT_FOUND');
    j.markUploaded([debit(2).debitId], 'b');
    expect(j.voidDebit(debit(2).debitId, voidRec)).toBe('NOT_PENDING');
    expect(j.getDebit(debit(1).debitId)?.voidRecord).toEqual(voidRec);
    expect(j.getDebit(debit(2).debitId)?.voidRecord).toBeNull();
    // voided money is not spent, but the counter stays consumed
    expect(j.unsyncedSpend(WALLET_A, 'EUR')).toBe(250);
    expect(j.hasReplay(WALLET_A, 1)).toBe(true);
    expect(j.pendingDebits(10).map((r) => r.counter)).toEqual([1]); // the void still goes up
    expect(j.totals(T0, T0 + DAY)).toEqual({ EUR: { count: 1, amount: 250 } });
  });

  it('prunes settled debits past retention and expired replay entries only', () => {
    const j = openJ({ retentionMs: 30 * DAY });
    j.commitAccept(debit(1, { credentialExpiresAtMs: T0 + DAY }), { scanKey: 'a', atMs: T0 });
    j.commitAccept(debit(2, { credentialExpiresAtMs: T0 + 100 * DAY }), { scanKey: 'b', atMs: T0 });
    j.commitAccept(debit(3, { acceptedAtMs: T0 + 20 * DAY }), { scanKey: 'c', atMs: T0 });
    j.commitAccept(debit(4), { scanKey: 'd', atMs: T0 }); // stays pending: never pruned
    j.applyResults([1, 2, 3].map((c) => ({ debitId: debit(c).debitId, status: 'settled' as const })));
    expect(j.prune(T0 + 40 * DAY)).toEqual({ debits: 2, replay: 3, outcomes: 0 });
    expect(j.getDebit(debit(1).debitId)).toBeUndefined();
    expect(j.getDebit(debit(3).debitId)?.state).toBe('settled');
    expect(j.getDebit(debit(4).debitId)?.state).toBe('pending');
    expect(j.hasReplay(WALLET_A, 2)).toBe(true); // credential still valid
    expect(j.hasReplay(WALLET_A, 1)).toBe(false);
    expect(j.hasReplay(WALLET_A, 4)).toBe(true); // replay gone, debit still held
    expect(j.prune(T0 + 40 * DAY)).toEqual({ debits: 0, replay: 0, outcomes: 0 });
  });

  it('totals per currency over [from, to), excluding rejected debits', () => {
    const j = openJ();
    j.commitAccept(debit(1, { amount: 100 }), { scanKey: 'a', atMs: T0 });
    j.commitAccept(debit(2, { amount: 200, currency: 'USD' }), { scanKey: 'b', atMs: T0 });
    j.commitAccept(debit(3, { amount: 300 }), { scanKey: 'c', atMs: T0 });
    j.commitAccept(debit(4, { amount: 400, acceptedAtMs: T0 + DAY }), { scanKey: 'd', atMs: T0 });
    j.applyResults([{ debitId: debit(3).debitId, status: 'rejected' }]);
    expect(j.totals(T0, T0 + DAY)).toEqual({ EUR: { count: 1, amount: 100 }, USD: { count: 1, amount: 200 } });
    expect(j.totals(T0 + DAY, T0 + 2 * DAY)).toEqual({ EUR: { count: 1, amount: 400 } });
  });
});

describe('SqliteJournal: charges and meta', () => {
  it('stores charges and moves their state', () => {
    const j = openJ();
    const c = { chargeId: 'pos-1', amount: 990, currency: 'EUR', state: 'pending' as const, debitId: null, createdAtMs: T0, updatedAtMs: T0 };
    j.putCharge(c);
    expectCode(() => j.putCharge(c), 'JOURNAL_DUPLICATE');
    expect(j.setChargeState('pos-1', 'paid', T0 + 5, 'abcd')).toBe(true);
    expect(j.getCharge('pos-1')).toEqual({ ...c, state: 'paid', debitId: 'abcd', updatedAtMs: T0 + 5 });
    expect(j.setChargeState('pos-1', 'cancelled', T0 + 6)).toBe(true);
    expect(j.getCharge('pos-1')?.debitId).toBe('abcd');
    expect(j.setChargeState('nope', 'paid', T0)).toBe(false);
    expectCode(() => j.setChargeState('pos-1', 'weird' as 'paid', T0), 'JOURNAL_INVALID');
  });

  it('stores JSON meta values and overwrites them', () => {
    const j = openJ();
    expect(j.getMeta('rev')).toBeUndefined();
    j.setMeta('rev', { version: 3, ids: ['a'] });
    j.setMeta('rev', { version: 4, ids: [] });
    expect(j.getMeta('rev')).toEqual({ version: 4, ids: [] });
  });
});
