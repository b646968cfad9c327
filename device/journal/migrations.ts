/**
 * Journal schema and its migrations. The schema version is `PRAGMA user_version`
 * (= number of migrations applied). Migrations run in order, each in its own IMMEDIATE
 * transaction together with the version bump, so a crash leaves the previous version intact.
 * A database whose version is newer than `MIGRATIONS.length` is refused (JOURNAL_TOO_NEW).
 *
 * Schema (current = v3). v1 and v2 are frozen (boxes in the field have them); v3 reshapes the
 * hot path: one accepted payment writes ONE row (the debit) and its 2 unique-index entries.
 *
 *   debits        one row per accepted payment (the outbox), and while it exists also the replay
 *                 entry of its (walletKey, counter) and the last outcome of its scan
 *     seq            INTEGER PRIMARY KEY   write order; from v3 drawn from the outcome sequence
 *                                          (see below), so it stays increasing across VACUUM
 *     debitId        TEXT UNIQUE NOT NULL  hex id derived from (walletKey, counter)
 *     walletKey      TEXT NOT NULL         wallet public key, hex
 *     counter        INTEGER NOT NULL      UNIQUE(walletKey, counter): the dedup key
 *     amount         INTEGER NOT NULL      minor units, > 0
 *     currency       TEXT NOT NULL
 *     chargeId       TEXT                  POS charge it paid, or NULL
 *     acceptedAtMs   INTEGER NOT NULL
 *     cardSerial     TEXT NOT NULL
 *     record         BLOB NOT NULL         signed debit record bytes
 *     state          TEXT NOT NULL         pending | uploaded | settled | rejected
 *     batchId        TEXT                  upload batch (set by markUploaded)
 *     uploadedAtMs   INTEGER
 *     resultCode     TEXT                  'DUPLICATE' or the acquirer's reject code
 *     finalAtMs      INTEGER               when settled/rejected
 *     voidRecord     BLOB                  (v2) signed void, set only while pending
 *     voidedAtMs     INTEGER               (v2)
 *     scanKey        TEXT                  (v3) scan this debit answered; NULL on older rows,
 *                                          whose accept outcome sits in last_outcome
 *     scanAtMs       INTEGER               (v3) time of that outcome
 *     replayUntilMs  INTEGER               (v3) credential expiry: prune() moves it into `replay`
 *                                          when it deletes the row; set to NULL once passed
 *     indexes: (state, seq) for the outbox; (acceptedAtMs) was dropped in v3 (totals, prune
 *              and export scan the table, off the payment path)
 *
 *   replay        (walletKey, counter) PRIMARY KEY, expiresAtMs; WITHOUT ROWID. Replay entries
 *                 of debits that are gone: v3 writes a row only when prune() deletes a settled
 *                 debit whose credential has not expired (v1/v2 wrote one per accept; those stay
 *                 until they expire). (walletKey, counter) is used iff a debit or a replay row has it.
 *
 *   last_outcome  id INTEGER PRIMARY KEY, scanKey TEXT UNIQUE, kind, code, debitId, atMs
 *                 from v3: declines only (v1/v2 accept rows stay until trimmed). `id` and
 *                 debits.seq share ONE sequence (next = max of both + 1), so the newer of a
 *                 decline and a debit is the one with the larger number; v3 shifted the old ids
 *                 above every old seq, keeping the previous newest outcome the newest
 *
 *   declines      id INTEGER PRIMARY KEY, code, scanKey, atMs -- bounded ring (last N kept)
 *
 *   meta          key TEXT PRIMARY KEY, value TEXT (JSON)
 *
 *   charges       (v2) chargeId TEXT PRIMARY KEY, amount, currency, state, debitId,
 *                 createdAtMs, updatedAtMs
 */
import type BetterSqlite3 from 'better-sqlite3';

export interface Migration {
  /** Version after this migration has run (1-based, = index + 1). */
  version: number;
  description: string;
  up(db: BetterSqlite3.Database): void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'debits outbox, replay set, last outcomes, decline log, meta',
    up(db) {
      db.exec(`
        CREATE TABLE debits (
          seq INTEGER PRIMARY KEY,
          debitId TEXT NOT NULL UNIQUE,
          walletKey TEXT NOT NULL,
          counter INTEGER NOT NULL,
          amount INTEGER NOT NULL CHECK (amount > 0),
          currency TEXT NOT NULL,
          chargeId TEXT,
          acceptedAtMs INTEGER NOT NULL,
          cardSerial TEXT NOT NULL,
          record BLOB NOT NULL,
          state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'uploaded', 'settled', 'rejected')),
          batchId TEXT,
          uploadedAtMs INTEGER,
          resultCode TEXT,
          finalAtMs INTEGER,
          UNIQUE (walletKey, counter)
        );
        CREATE INDEX debits_state_seq ON debits (state, seq);
        CREATE INDEX debits_accepted ON debits (acceptedAtMs);
        CREATE TABLE replay (
          walletKey TEXT NOT NULL,
          counter INTEGER NOT NULL,
          expiresAtMs INTEGER NOT NULL,
          PRIMARY KEY (walletKey, counter)
        ) WITHOUT ROWID;
        CREATE INDEX replay_expires ON replay (expiresAtMs);
        CREATE TABLE last_outcome (
          id INTEGER PRIMARY KEY,
          scanKey TEXT NOT NULL UNIQUE,
          kind TEXT NOT NULL CHECK (kind IN ('accept', 'decline')),
          code TEXT,
          debitId TEXT,
          atMs INTEGER NOT NULL
        );
        CREATE TABLE declines (
          id INTEGER PRIMARY KEY,
          code TEXT NOT NULL,
          scanKey TEXT NOT NULL,
          atMs INTEGER NOT NULL
        );
        CREATE TABLE meta (
          key TEXT PRIMARY KEY,
          value TEXT NOT NULL
        ) WITHOUT ROWID;
      `);
    },
  },
  {
    version: 2,
    description: 'charges for the POS link; void record on debits',
    up(db) {
      db.exec(`
        ALTER TABLE debits ADD COLUMN voidRecord BLOB;
        ALTER TABLE debits ADD COLUMN voidedAtMs INTEGER;
        CREATE TABLE charges (
          chargeId TEXT PRIMARY KEY,
          amount INTEGER NOT NULL CHECK (amount > 0),
          currency TEXT NOT NULL,
          state TEXT NOT NULL CHECK (state IN ('pending', 'paid', 'cancelled', 'declined')),
          debitId TEXT,
          createdAtMs INTEGER NOT NULL,
          updatedAtMs INTEGER NOT NULL
        );
      `);
    },
  },
  {
    version: 3,
    description: 'hot path: the debit row carries its scan outcome and replay expiry; one outcome sequence',
    up(db) {
      // last_outcome ids move above every debit seq (via negatives, so no id collides midway):
      // the old newest outcome stays the newest under the shared sequence.
      db.exec(`
        ALTER TABLE debits ADD COLUMN scanKey TEXT;
        ALTER TABLE debits ADD COLUMN scanAtMs INTEGER;
        ALTER TABLE debits ADD COLUMN replayUntilMs INTEGER;
        DROP INDEX debits_accepted;
        UPDATE last_outcome SET id = -id;
        UPDATE last_outcome SET id = (SELECT COALESCE(MAX(seq), 0) FROM debits) - id;
      `);
    },
  },
];

export type MigrationOutcome =
  | { ok: true; from: number; to: number }
  | { ok: false; reason: 'too_new'; found: number; known: number };

/**
 * Brings `db` to `migrations.length`. Each step runs in an IMMEDIATE transaction that re-reads
 * the version first, so two processes opening the same file cannot apply a step twice.
 */
export function applyMigrations(db: BetterSqlite3.Database, migrations: readonly Migration[] = MIGRATIONS): MigrationOutcome {
  const known = migrations.length;
  const readVersion = (): number => db.pragma('user_version', { simple: true }) as number;
  const from = readVersion();
  if (from > known) return { ok: false, reason: 'too_new', found: from, known };
  for (let i = from; i < known; i++) {
    const m = migrations[i]!;
    if (m.version !== i + 1) throw new Error(`applyMigrations: migration at index ${i} has version ${m.version}, expected ${i + 1}`);
    db.transaction(() => {
      if (readVersion() !== i) return; // another process got there first
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
  return { ok: true, from, to: readVersion() };
}
