/** Every SQL statement of the journal, prepared once at open. */
import type BetterSqlite3 from 'better-sqlite3';
import { DEBIT_COLUMNS } from './sqlite-support.ts';

export function prepareStatements(db: BetterSqlite3.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    insertDebit: p(
      `INSERT INTO debits (debitId, walletKey, counter, amount, currency, chargeId, acceptedAtMs, cardSerial, record, state)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')`,
    ),
    insertReplay: p('INSERT INTO replay (walletKey, counter, expiresAtMs) VALUES (?, ?, ?)'),
    putOutcome: p('INSERT OR REPLACE INTO last_outcome (scanKey, kind, code, debitId, atMs) VALUES (?, ?, ?, ?, ?)'),
    trimOutcomes: p('DELETE FROM last_outcome WHERE id <= ?'),
    insertDecline: p('INSERT INTO declines (code, scanKey, atMs) VALUES (?, ?, ?)'),
    trimDeclines: p('DELETE FROM declines WHERE id <= ?'),
    recentDeclines: p('SELECT code, scanKey, atMs FROM declines ORDER BY id DESC LIMIT ?'),
    hasReplay: p(
      `SELECT EXISTS (SELECT 1 FROM replay WHERE walletKey = ? AND counter = ?)
           OR EXISTS (SELECT 1 FROM debits WHERE walletKey = ? AND counter = ?) AS seen`,
    ),
    unsynced: p(
      `SELECT COALESCE(SUM(amount), 0) AS total FROM debits
       WHERE walletKey = ? AND currency = ? AND state IN ('pending', 'uploaded') AND voidRecord IS NULL`,
    ),
    lastOutcome: p('SELECT scanKey, kind, code, debitId, atMs FROM last_outcome WHERE scanKey = ?'),
    latestOutcome: p('SELECT scanKey, kind, code, debitId, atMs FROM last_outcome ORDER BY id DESC LIMIT 1'),
    byState: p(`SELECT ${DEBIT_COLUMNS} FROM debits WHERE state = ? ORDER BY seq LIMIT ?`),
    getDebit: p(`SELECT ${DEBIT_COLUMNS} FROM debits WHERE debitId = ?`),
    markUploaded: p(`UPDATE debits SET state = 'uploaded', batchId = ?, uploadedAtMs = ? WHERE debitId = ? AND state = 'pending'`),
    requeue: p(`UPDATE debits SET state = 'pending', batchId = NULL, uploadedAtMs = NULL WHERE batchId = ? AND state = 'uploaded'`),
    stateOf: p('SELECT state, voidRecord IS NOT NULL AS voided FROM debits WHERE debitId = ?'),
    finalise: p('UPDATE debits SET state = ?, resultCode = ?, finalAtMs = ? WHERE debitId = ?'),
    counts: p('SELECT state, COUNT(*) AS n FROM debits GROUP BY state'),
    setVoid: p('UPDATE debits SET voidRecord = ?, voidedAtMs = ? WHERE debitId = ?'),
    putCharge: p(
      'INSERT INTO charges (chargeId, amount, currency, state, debitId, createdAtMs, updatedAtMs) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    getCharge: p('SELECT chargeId, amount, currency, state, debitId, createdAtMs, updatedAtMs FROM charges WHERE chargeId = ?'),
    setChargeState: p('UPDATE charges SET state = ?, updatedAtMs = ?, debitId = COALESCE(?, debitId) WHERE chargeId = ?'),
    getMeta: p('SELECT value FROM meta WHERE key = ?'),
    setMeta: p('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    pruneDebits: p(`DELETE FROM debits WHERE state = 'settled' AND acceptedAtMs < ?`),
    pruneReplay: p('DELETE FROM replay WHERE expiresAtMs < ?'),
    maxOutcomeId: p('SELECT COALESCE(MAX(id), 0) AS m FROM last_outcome'),
    totals: p(
      `SELECT currency, COUNT(*) AS count, SUM(amount) AS amount FROM debits
       WHERE acceptedAtMs >= ? AND acceptedAtMs < ? AND state != 'rejected' AND voidRecord IS NULL
       GROUP BY currency`,
    ),
  };
}

export type JournalStatements = ReturnType<typeof prepareStatements>;
