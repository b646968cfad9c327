/**
 * The back end's embedded SQLite database (better-sqlite3, WAL, synchronous=FULL).
 * The schema below is the one documented in docs/backend-api.md ("SQLite schema").
 *
 * INVARIANTS
 * - One connection per process. better-sqlite3 is synchronous, so one transaction runs to the
 *   end before any other request is looked at: a batch is settled all or nothing.
 * - Money is integer minor units. Every ledger transaction's entries sum to zero.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { BoxError } from '../../device/core/errors.ts';

export type Db = BetterSqlite3.Database;
export type Statement = BetterSqlite3.Statement;

/**
 * Statements compiled once per SQL text and reused (better-sqlite3 compiles on every `prepare`,
 * which cost more than running the statement on the per-debit paths). One cache per owner object:
 * the SQL texts are constants, so it holds a fixed handful of statements.
 */
export function statementCache(db: Db): (sql: string) => Statement {
  const cache = new Map<string, Statement>();
  return (sql) => {
    let s = cache.get(sql);
    if (s === undefined) {
      s = db.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  };
}

/** The version `openBackendDb` brings every database to (SCHEMA is version 1, then MIGRATIONS). */
export const SCHEMA_VERSION = 3;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS signing_keys (
  key_id TEXT PRIMARY KEY, role TEXT NOT NULL CHECK (role IN ('authority','issuer','time')),
  seed TEXT NOT NULL, public_key TEXT NOT NULL, created_at_ms INTEGER NOT NULL,
  retired_at_ms INTEGER);
CREATE TABLE IF NOT EXISTS key_rollovers (
  id INTEGER PRIMARY KEY, role TEXT NOT NULL, old_key_id TEXT NOT NULL, new_key_id TEXT NOT NULL,
  new_public_key TEXT NOT NULL, issued_at_ms INTEGER NOT NULL, signature TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS merchants (
  merchant_id TEXT PRIMARY KEY, display_name TEXT NOT NULL, currency TEXT NOT NULL,
  currency_exponent INTEGER NOT NULL, next_till INTEGER NOT NULL DEFAULT 1,
  roster_version INTEGER NOT NULL DEFAULT 1, created_at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS merchant_keys (
  key_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL REFERENCES merchants(merchant_id),
  secret TEXT NOT NULL, public_key TEXT NOT NULL, created_at_ms INTEGER NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS boxes (
  device_key_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL REFERENCES merchants(merchant_id),
  device_public_key TEXT NOT NULL UNIQUE, identity_public_key TEXT NOT NULL, till_id INTEGER NOT NULL,
  own_card_serial INTEGER NOT NULL, delivered_roster_version INTEGER NOT NULL DEFAULT 0,
  enrolled_at_ms INTEGER NOT NULL, revoked_at_ms INTEGER, last_batch_at_ms INTEGER);
CREATE TABLE IF NOT EXISTS cards (
  serial INTEGER PRIMARY KEY, merchant_id TEXT NOT NULL, device_key_id TEXT NOT NULL,
  till_id INTEGER NOT NULL, text TEXT NOT NULL, enc_key_id TEXT NOT NULL, authority_key_id TEXT NOT NULL,
  not_after_sec INTEGER NOT NULL, issued_at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS cards_merchant ON cards(merchant_id);
CREATE TABLE IF NOT EXISTS directory_entries (
  device_key_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, lat REAL, lon REAL, updated_at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS directory_latlon ON directory_entries(lat, lon);
CREATE TABLE IF NOT EXISTS directory_cells (cell_id TEXT NOT NULL, device_key_id TEXT NOT NULL, PRIMARY KEY (cell_id, device_key_id));
CREATE TABLE IF NOT EXISTS directory_bssids (bssid TEXT NOT NULL, device_key_id TEXT NOT NULL, PRIMARY KEY (bssid, device_key_id));
CREATE TABLE IF NOT EXISTS accounts (
  account_id TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('customer','merchant','issuer_funding','issuer_loss')),
  currency TEXT NOT NULL, balance INTEGER NOT NULL DEFAULT 0, created_at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS credentials (
  wallet_key TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(account_id),
  credential TEXT NOT NULL, issuer_key_id TEXT NOT NULL, offline_limit INTEGER NOT NULL,
  currency TEXT NOT NULL, not_after_sec INTEGER NOT NULL, issued_at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS revocations (
  version INTEGER PRIMARY KEY, wallet_key TEXT NOT NULL UNIQUE, revoked_at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, created_at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
  device_key_id TEXT NOT NULL, batch_seq INTEGER NOT NULL, body_hash TEXT NOT NULL,
  received_at_ms INTEGER NOT NULL, results_json TEXT NOT NULL, PRIMARY KEY (device_key_id, batch_seq));
CREATE TABLE IF NOT EXISTS debits (
  debit_id TEXT PRIMARY KEY, wallet_key TEXT NOT NULL, counter INTEGER NOT NULL,
  device_key_id TEXT NOT NULL, merchant_id TEXT NOT NULL, card_serial INTEGER NOT NULL,
  account_id TEXT, amount INTEGER NOT NULL, currency TEXT NOT NULL,
  accepted_at_sec INTEGER NOT NULL, revocation_version INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('settled','voided','refunded','partially_refunded')),
  refunded INTEGER NOT NULL DEFAULT 0, batch_seq INTEGER NOT NULL, settled_at_ms INTEGER NOT NULL,
  flags TEXT NOT NULL DEFAULT '', authorization_hash TEXT NOT NULL, record BLOB NOT NULL,
  UNIQUE (wallet_key, counter));
CREATE TABLE IF NOT EXISTS ledger_entries (
  id INTEGER PRIMARY KEY, txn_id TEXT NOT NULL, account_id TEXT NOT NULL REFERENCES accounts(account_id),
  amount INTEGER NOT NULL, kind TEXT NOT NULL, debit_id TEXT, created_at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS ledger_account ON ledger_entries(account_id);
CREATE TABLE IF NOT EXISTS refunds (
  refund_id INTEGER PRIMARY KEY, debit_id TEXT NOT NULL REFERENCES debits(debit_id),
  amount INTEGER NOT NULL, created_at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS voids (
  debit_id TEXT PRIMARY KEY, device_key_id TEXT NOT NULL, voided_at_sec INTEGER NOT NULL,
  record BLOB NOT NULL, received_at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS flags (
  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, wallet_key TEXT, debit_id TEXT, device_key_id TEXT,
  detail TEXT NOT NULL, created_at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rejections (
  id INTEGER PRIMARY KEY, device_key_id TEXT NOT NULL, debit_id TEXT NOT NULL, code TEXT NOT NULL,
  batch_seq INTEGER NOT NULL, created_at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS rejections_box ON rejections(device_key_id, created_at_ms);
`;

/**
 * Migration N takes a database from version N-1 to N. Each runs exactly once, in one transaction
 * together with the `meta.schema_version` bump; a database newer than this code is refused.
 */
export const MIGRATIONS: Readonly<Record<number, string>> = {
  // v2: a second, different authorization with an existing (wallet key, counter) is settled and
  // paid by the issuer (docs/protocol.md 9.3); it is kept here, one row per distinct signed content.
  // debits.content_hash = H(signed content, 5.2); NULL on rows settled before v2.
  2: `
ALTER TABLE debits ADD COLUMN content_hash TEXT;
CREATE TABLE counter_reuses (
  id INTEGER PRIMARY KEY, debit_id TEXT NOT NULL REFERENCES debits(debit_id), wallet_key TEXT NOT NULL,
  counter INTEGER NOT NULL, device_key_id TEXT NOT NULL, merchant_id TEXT NOT NULL, card_serial INTEGER NOT NULL,
  amount INTEGER NOT NULL, currency TEXT NOT NULL, accepted_at_sec INTEGER NOT NULL, batch_seq INTEGER NOT NULL,
  settled_at_ms INTEGER NOT NULL, content_hash TEXT NOT NULL, record BLOB NOT NULL,
  UNIQUE (debit_id, content_hash));
CREATE INDEX counter_reuses_box ON counter_reuses(device_key_id, debit_id);
`,
  // v3: the OVER_LIMIT_ACROSS_BOXES window (a wallet's debits around a time) is read from the index
  // alone: the settlement of each debit sums that window, and table lookups of every row in it
  // were most of the settlement's SQL time. Replaces debits_wallet_time (wallet_key, accepted_at_sec).
  3: `
DROP INDEX IF EXISTS debits_wallet_time;
CREATE INDEX IF NOT EXISTS debits_wallet_window ON debits(wallet_key, accepted_at_sec, status, device_key_id, amount);
`,
};

/** Applies every migration above the stored schema version. */
export function migrate(db: Db): number {
  db.prepare('INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)').run('schema_version', '1');
  const stored = Number(getMeta(db, 'schema_version'));
  if (!Number.isInteger(stored) || stored < 1 || stored > SCHEMA_VERSION) {
    throw new BoxError('BACKEND_SCHEMA', `openBackendDb: database schema version ${getMeta(db, 'schema_version')} is not one this code knows (1..${SCHEMA_VERSION})`);
  }
  for (let v = stored + 1; v <= SCHEMA_VERSION; v++) {
    const sql = MIGRATIONS[v];
    if (sql === undefined) throw new BoxError('BACKEND_SCHEMA', `openBackendDb: no migration to schema version ${v}`);
    db.transaction(() => {
      db.exec(sql);
      setMeta(db, 'schema_version', String(v));
    })();
  }
  return SCHEMA_VERSION;
}

function loadDriver(): typeof BetterSqlite3 {
  try {
    return createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
  } catch (e) {
    throw new BoxError('BACKEND_DRIVER_MISSING', 'openBackendDb: cannot load better-sqlite3; install the npm package better-sqlite3', { cause: e });
  }
}

/** Opens (creating when absent) the database at `path`; ':memory:' for tests. */
export function openBackendDb(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const Driver = loadDriver();
  const db = new Driver(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  try {
    db.exec(SCHEMA);
    migrate(db);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

export function getMeta(db: Db, key: string): string | undefined {
  const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value;
}

export function setMeta(db: Db, key: string, value: string): void {
  db.prepare('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
}

/** Increments the integer meta counter `key` and returns the new value. */
export function bumpMeta(db: Db, key: string, start = 1): number {
  const next = Number(getMeta(db, key) ?? String(start - 1)) + 1;
  setMeta(db, key, String(next));
  return next;
}
