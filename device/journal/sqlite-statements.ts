/**
 * Every SQL statement of the journal, prepared once at open (schema v3, see migrations.ts).
 * The payment path writes one debit row per accept; its replay entry and last outcome are that row.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { DEBIT_COLUMNS } from './sqlite-support.ts';

/** The newest number of the shared outcome sequence (debits.seq and last_outcome.id), 0 when empty. */
const TOP_SEQ = 'max(COALESCE((SELECT MAX(seq) FROM debits), 0), COALESCE((SELECT MAX(id) FROM last_outcome), 0))';
/** A debit as an outcome row: `ord` orders it against last_outcome.id. */
const DEBIT_OUTCOME = "seq AS ord, scanKey, 'accept' AS kind, NULL AS code, debitId, scanAtMs AS atMs";

export function prepareStatements(db: BetterSqlite3.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    insertDebit: p(
      `INSERT INTO debits (seq, debitId, walletKey, counter, amount, currency, chargeId, acceptedAtMs, cardSerial, record, state,
                           scanKey, scanAtMs, replayUntilMs)
       VALUES (${TOP_SEQ} + 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
    ),
    /** Replay entry of a debit that prune() deleted: the pair stays used until the credential expires. */
    replayKept: p('SELECT 1 FROM replay WHERE walletKey = ? AND counter = ?'),
    putDeclineOutcome: p(`INSERT OR REPLACE INTO last_outcome (id, scanKey, kind, code, debitId, atMs) VALUES (${TOP_SEQ} + 1, ?, 'decline', ?, NULL, ?)`),
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
    /**
     * The newer of the decline row and the debit with this scan key, among the last $window numbers
     * of the outcome sequence. Debits are found by a rowid range at the tail of the table, so the
     * payment path writes no scanKey index; the decline ring is trimmed to the same window.
     */
    lastOutcome: p(
      `SELECT scanKey, kind, code, debitId, atMs FROM (
         SELECT id AS ord, scanKey, kind, code, debitId, atMs FROM last_outcome WHERE scanKey = $scanKey AND id > ${TOP_SEQ} - $window
         UNION ALL
         SELECT ${DEBIT_OUTCOME} FROM debits WHERE seq > ${TOP_SEQ} - $window AND scanKey = $scanKey
       ) ORDER BY ord DESC LIMIT 1`,
    ),
    latestOutcome: p(
      `SELECT scanKey, kind, code, debitId, atMs FROM (
         SELECT * FROM (SELECT id AS ord, scanKey, kind, code, debitId, atMs FROM last_outcome ORDER BY id DESC LIMIT 1)
         UNION ALL
         SELECT * FROM (SELECT ${DEBIT_OUTCOME} FROM debits WHERE scanKey IS NOT NULL ORDER BY seq DESC LIMIT 1)
       ) ORDER BY ord DESC LIMIT 1`,
    ),
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
    /** Held debits whose credential expired: their replay protection ends (counted as pruned replay). */
    expireHeldReplay: p('UPDATE debits SET replayUntilMs = NULL WHERE replayUntilMs < ?'),
    /** Before a settled debit goes, its (walletKey, counter) moves to `replay` until the credential expires. */
    keepReplayOfPruned: p(
      `INSERT INTO replay (walletKey, counter, expiresAtMs)
       SELECT walletKey, counter, replayUntilMs FROM debits WHERE state = 'settled' AND acceptedAtMs < ? AND replayUntilMs IS NOT NULL
       ON CONFLICT (walletKey, counter) DO UPDATE SET expiresAtMs = max(expiresAtMs, excluded.expiresAtMs)`,
    ),
    pruneDebits: p(`DELETE FROM debits WHERE state = 'settled' AND acceptedAtMs < ?`),
    pruneReplay: p('DELETE FROM replay WHERE expiresAtMs < ?'),
    topSeq: p(`SELECT ${TOP_SEQ} AS m`),
    totals: p(
      `SELECT currency, COUNT(*) AS count, SUM(amount) AS amount FROM debits
       WHERE acceptedAtMs >= ? AND acceptedAtMs < ? AND state != 'rejected' AND voidRecord IS NULL
       GROUP BY currency`,
    ),
  };
}

export type JournalStatements = ReturnType<typeof prepareStatements>;
