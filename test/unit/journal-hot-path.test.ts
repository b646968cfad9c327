import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyMigrations, MIGRATIONS } from '../../device/journal/migrations.ts';
import { openSqliteJournal } from '../../device/journal/sqlite-journal.ts';
import type { SqliteJournal, SqliteJournalOptions } from '../../device/journal/sqlite-journal.ts';
import type { DebitInsert } from '../../device/journal/types.ts';

// Schema v3: an accept writes one debit row that is also its replay entry and its last outcome.

const Driver = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
const DAY = 24 * 3600 * 1000;
const T0 = 1_750_000_000_000;
const wallet = (i: number) => (i % 256).toString(16).padStart(2, '0').repeat(32);

function debit(counter: number, over: Partial<DebitInsert> = {}): DebitInsert {
  return {
    debitId: (counter + 1).toString(16).padStart(32, '0'),
    walletKey: wallet(counter % 16),
    counter,
    amount: 100,
    currency: 'EUR',
    chargeId: null,
    acceptedAtMs: T0,
    cardSerial: 'card',
    record: new Uint8Array(300).fill(counter & 0xff),
    credentialExpiresAtMs: T0 + 10 * DAY,
    ...over,
  };
}

let dir: string;
let dbPath: string;
const open: SqliteJournal[] = [];
const openJ = (over: Partial<SqliteJournalOptions> = {}) => {
  const j = openSqliteJournal({ path: dbPath, now: () => T0, ...over });
  open.push(j);
  return j;
};
const rowCount = (table: string): number => {
  const db = new Driver(dbPath, { readonly: true });
  try {
    return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
};

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'journal-hot-'));
  dbPath = path.join(dir, 'journal.db');
});
afterEach(() => {
  for (const j of open.splice(0)) j.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('journal v3: the payment path writes one row', () => {
  it('an accept adds a debit row only (no replay or outcome row) and few WAL pages', () => {
    const j = openJ();
    for (let c = 0; c < 300; c++) j.commitAccept(debit(c), { scanKey: `s${c}`, atMs: T0 + c });
    const side = new Driver(dbPath);
    side.pragma('wal_checkpoint(TRUNCATE)');
    const n = 40;
    for (let c = 300; c < 300 + n; c++) j.commitAccept(debit(c), { scanKey: `s${c}`, atMs: T0 + c });
    const [cp] = side.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
    side.close();
    // table leaf + debitId index + (walletKey, counter) index + (state, seq) index, plus splits
    expect(cp!.log / n).toBeLessThan(6);
    expect(cp!.log / n).toBeGreaterThanOrEqual(4);
    expect(rowCount('replay')).toBe(0);
    expect(rowCount('last_outcome')).toBe(0);
    expect(j.lastOutcome('s339')).toEqual({ kind: 'accept', scanKey: 's339', debitId: debit(339).debitId, atMs: T0 + 339 });
  });

  it('lastOutcome and latestOutcome take the newer of the decline row and the debit row, by write order', () => {
    const j = openJ();
    j.commitDecline({ scanKey: 'k', code: 'OVER_LIMIT', atMs: T0 + 50 });
    j.commitAccept(debit(1), { scanKey: 'k', atMs: T0 + 10 }); // clock went back: order still wins
    expect(j.lastOutcome('k')).toMatchObject({ kind: 'accept', debitId: debit(1).debitId });
    expect(j.latestOutcome()?.kind).toBe('accept');
    j.commitDecline({ scanKey: 'k', code: 'REPLAYED', atMs: T0 + 20 });
    expect(j.lastOutcome('k')).toEqual({ kind: 'decline', scanKey: 'k', code: 'REPLAYED', atMs: T0 + 20 });
    j.commitAccept(debit(2), { scanKey: 'm', atMs: T0 + 30 });
    expect(j.latestOutcome()?.scanKey).toBe('m');
    expect(j.lastOutcome('k')?.code).toBe('REPLAYED');
    j.close();
    const again = openJ();
    expect(again.latestOutcome()?.scanKey).toBe('m');
    expect(again.lastOutcome('k')?.code).toBe('REPLAYED');
  });

  it('lastOutcome answers from the newest outcomeLogSize outcomes only; the debit itself stays', () => {
    const j = openJ({ outcomeLogSize: 4 });
    j.commitAccept(debit(1), { scanKey: 'old', atMs: T0 });
    for (let i = 0; i < 3; i++) j.commitDecline({ scanKey: `d${i}`, code: 'EXPIRED', atMs: T0 });
    expect(j.lastOutcome('old')?.kind).toBe('accept');
    j.commitDecline({ scanKey: 'd3', code: 'EXPIRED', atMs: T0 });
    expect(j.lastOutcome('old')).toBeUndefined();
    expect(j.getDebit(debit(1).debitId)?.state).toBe('pending');
    expect(j.hasReplay(debit(1).walletKey, 1)).toBe(true);
  });

  it('prune moves the replay entry of a pruned settled debit into replay until its credential expires', () => {
    const j = openJ({ retentionMs: DAY });
    const d = debit(5, { credentialExpiresAtMs: T0 + 5 * DAY });
    j.commitAccept(d, { scanKey: 's', atMs: T0 });
    j.applyResults([{ debitId: d.debitId, status: 'settled' }]);
    expect(j.prune(T0 + 2 * DAY)).toEqual({ debits: 1, replay: 0, outcomes: 0 });
    expect(rowCount('replay')).toBe(1);
    expect(j.hasReplay(d.walletKey, 5)).toBe(true);
    expect(() => j.commitAccept(debit(5, { debitId: 'abcd' }), { scanKey: 't', atMs: T0 })).toThrow(/duplicate/);
    expect(j.lastOutcome('t')).toBeUndefined();
    expect(j.prune(T0 + 6 * DAY)).toEqual({ debits: 0, replay: 1, outcomes: 0 });
    expect(j.hasReplay(d.walletKey, 5)).toBe(false);
  });
});

describe('journal v3 migration from v2', () => {
  it('keeps old replay rows and the old outcome order, and new writes come after them', () => {
    const db = new Driver(dbPath);
    db.pragma('journal_mode = WAL');
    expect(applyMigrations(db, MIGRATIONS.slice(0, 2))).toEqual({ ok: true, from: 0, to: 2 });
    const w = wallet(7);
    // v2 accept: debit + replay + last_outcome; then a decline; the outcome ids interleave with seq
    db.exec(`
      INSERT INTO debits (seq, debitId, walletKey, counter, amount, currency, acceptedAtMs, cardSerial, record, state)
        VALUES (1, 'aa01', '${w}', 1, 100, 'EUR', ${T0}, 'c', x'01', 'settled'),
               (2, 'aa02', '${w}', 2, 100, 'EUR', ${T0}, 'c', x'02', 'pending');
      INSERT INTO replay VALUES ('${w}', 1, ${T0 + 3 * DAY}), ('${w}', 2, ${T0 + 3 * DAY});
      INSERT INTO last_outcome (id, scanKey, kind, code, debitId, atMs) VALUES
        (1, 'acc1', 'accept', NULL, 'aa01', ${T0}), (2, 'acc2', 'accept', NULL, 'aa02', ${T0 + 1}), (3, 'dec', 'decline', 'EXPIRED', NULL, ${T0 + 2});
    `);
    db.close();

    const j = openJ({ retentionMs: DAY });
    expect(j.settings().userVersion).toBe(3);
    expect(j.latestOutcome()).toEqual({ kind: 'decline', scanKey: 'dec', code: 'EXPIRED', atMs: T0 + 2 });
    expect(j.lastOutcome('acc2')).toEqual({ kind: 'accept', scanKey: 'acc2', debitId: 'aa02', atMs: T0 + 1 });
    j.commitAccept(debit(3, { walletKey: w }), { scanKey: 'new', atMs: T0 + 3 });
    expect(j.latestOutcome()?.scanKey).toBe('new');
    expect(j.pendingDebits(10).map((r) => r.debitId)).toEqual(['aa02', debit(3).debitId]);
    // the old settled debit goes; its old replay row keeps the pair used until it expires
    expect(j.prune(T0 + 2 * DAY)).toEqual({ debits: 1, replay: 0, outcomes: 0 });
    expect(j.hasReplay(w, 1)).toBe(true);
    expect(j.prune(T0 + 4 * DAY)).toEqual({ debits: 0, replay: 2, outcomes: 0 });
    expect(j.hasReplay(w, 1)).toBe(false);
    expect(j.hasReplay(w, 2)).toBe(true); // still held as a pending debit
    expect(j.integrityCheck()).toBe('ok');
  });
});
