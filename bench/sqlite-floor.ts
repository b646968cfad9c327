/**
 * The storage floor of one accepted scan: a bare better-sqlite3 transaction in WAL mode with
 * synchronous=FULL (the journal's settings) that inserts one debit-like row and commits. No
 * validation, no replay or outcome rows, no secondary indexes: what durability alone costs.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { join } from 'node:path';
import { loadBetterSqlite3 } from '../device/journal/sqlite-support.ts';
import { usSince } from './stats.ts';

export class SqliteCommitFloor {
  readonly #db: BetterSqlite3.Database;
  readonly #commit: (i: number) => void;
  #i = 0;

  constructor(dir: string, recordBytes: number) {
    const Database = loadBetterSqlite3();
    this.#db = new Database(join(dir, 'floor.db'));
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.exec(`CREATE TABLE debits (
      seq INTEGER PRIMARY KEY, debitId TEXT NOT NULL, walletKey TEXT NOT NULL, counter INTEGER NOT NULL,
      amount INTEGER NOT NULL, currency TEXT NOT NULL, acceptedAtMs INTEGER NOT NULL, record BLOB NOT NULL)`);
    const insert = this.#db.prepare('INSERT INTO debits (debitId, walletKey, counter, amount, currency, acceptedAtMs, record) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const record = Buffer.alloc(recordBytes, 0x5a);
    this.#commit = this.#db.transaction((i: number) => {
      insert.run(i.toString(16).padStart(32, '0'), 'ab'.repeat(32), i, 12_50, 'EUR', 1_700_000_000_000 + i, record);
    });
  }

  /** One insert + fsync'd commit; returns its duration in microseconds. */
  commitOnce(): number {
    const t0 = process.hrtime.bigint();
    this.#commit(this.#i++);
    return usSince(t0);
  }

  close(): void {
    this.#db.close();
  }
}
