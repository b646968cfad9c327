/**
 * The journal on SQLite (better-sqlite3, synchronous). WAL + synchronous=FULL: a commit
 * returns only after its WAL frames are fsynced, so an acknowledged debit survives SIGKILL
 * and power loss. Schema and migrations: migrations.ts.
 *
 * INVARIANTS
 * - One connection per process; better-sqlite3 is synchronous, so no two journal calls
 *   interleave inside the process. Other processes (CLI tools) are serialised by SQLite
 *   locks; `busy_timeout` makes them wait instead of failing at once.
 * - Every multi-statement change runs in one transaction (all or nothing); the payment-path
 *   and prune transactions and their own invariants are in sqlite-transactions.ts.
 * - Every failure leaves as a BoxError (JOURNAL_DUPLICATE, JOURNAL_INVALID or JOURNAL_IO).
 */
import type BetterSqlite3 from 'better-sqlite3';
import { silentLog } from '../../drivers/common/log.ts';
import type { Log } from '../../drivers/common/log.ts';
import { BoxError } from '../core/errors.ts';
import { applyMigrations, MIGRATIONS } from './migrations.ts';
import { prepareStatements } from './sqlite-statements.ts';
import type { JournalStatements } from './sqlite-statements.ts';
import { makeTransactions } from './sqlite-transactions.ts';
import type { JournalTransactions } from './sqlite-transactions.ts';
import type { Migration, MigrationOutcome } from './migrations.ts';
import {
  checkBytes,
  checkCurrency,
  checkDebit,
  checkHex,
  checkInt,
  checkText,
  loadBetterSqlite3,
  toCharge,
  toDebitRow,
  toJournalError,
  toOutcome,
} from './sqlite-support.ts';
import type { RawDebit, RawOutcome, SqliteDriver } from './sqlite-support.ts';
import { CHARGE_STATES } from './types.ts';
import type {
  ApplyResultsSummary,
  Charge,
  ChargeState,
  CurrencyTotal,
  DebitInsert,
  DebitResult,
  DebitRow,
  DeclineInsert,
  Journal,
  LastOutcome,
  MetaValue,
  OutboxCounts,
  OutcomeInsert,
  PruneCounts,
  VoidResult,
} from './types.ts';

export const DEFAULT_RETENTION_MS = 30 * 24 * 3600 * 1000;
export const DEFAULT_OUTCOME_LOG_SIZE = 64;

export interface SqliteJournalOptions {
  /** Database file, inside the (checked) state directory. */
  path: string;
  /** How long settled debits are kept (default 30 days). */
  retentionMs?: number;
  /** Decline log size (default 500). */
  declineLogSize?: number;
  /**
   * How many of the newest outcomes (accepts and declines) lastOutcome() answers from (default 64;
   * the Acceptor asks only within its repeat window of at most 60 s). Older declines are deleted;
   * older debits stay, but lastOutcome() scans only this many numbers at the tail of the table.
   */
  outcomeLogSize?: number;
  /** How long to wait for another process's lock (default 5000 ms). */
  busyTimeoutMs?: number;
  /** Cap on the database size (PRAGMA max_page_count), so the journal cannot fill the card. */
  maxBytes?: number;
  /** Clock for uploadedAtMs / finalAtMs / voidedAtMs (default Date.now). */
  now?: () => number;
  log?: Log;
  /**
   * Open for inspection only (CLI tools next to the running box): no migration, every write
   * fails with JOURNAL_IO. The schema must be exactly the current one.
   */
  readonly?: boolean;
  /** Schema steps (default MIGRATIONS); tests pass a prefix to build an old database. */
  migrations?: readonly Migration[];
  /** Driver loader (default: lazy require of better-sqlite3). */
  loadDriver?: () => SqliteDriver;
}

export interface JournalSettings {
  journalMode: string;
  /** 2 = FULL. */
  synchronous: number;
  foreignKeys: boolean;
  busyTimeoutMs: number;
  userVersion: number;
  maxPageCount: number;
  pageSize: number;
}

/** Opens (creating and migrating) the journal. The only function here that throws on setup. */
export function openSqliteJournal(options: SqliteJournalOptions): SqliteJournal {
  const Driver = (options.loadDriver ?? loadBetterSqlite3)();
  const migrations = options.migrations ?? MIGRATIONS;
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  let db: BetterSqlite3.Database | undefined;
  try {
    db = new Driver(options.path, { timeout: busyTimeoutMs, readonly: options.readonly === true, fileMustExist: options.readonly === true });
    const mode = String(db.pragma(options.readonly ? 'journal_mode' : 'journal_mode = WAL', { simple: true }));
    if (mode !== 'wal' && options.path !== ':memory:') {
      throw new BoxError('JOURNAL_IO', `openSqliteJournal: journal_mode WAL refused by ${JSON.stringify(options.path)} (got ${mode})`);
    }
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    if (options.maxBytes !== undefined) {
      checkInt('open', 'maxBytes', options.maxBytes, 4096);
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      db.pragma(`max_page_count = ${Math.ceil(options.maxBytes / pageSize)}`);
    }
    const m = options.readonly ? checkVersion(db, migrations.length) : applyMigrations(db, migrations);
    if (!m.ok && m.reason === 'too_old') {
      throw new BoxError('JOURNAL_IO', `openSqliteJournal: read-only open of ${JSON.stringify(options.path)} at schema ${m.found}, expected ${m.known}`);
    }
    if (!m.ok) {
      throw new BoxError(
        'JOURNAL_TOO_NEW',
        `openSqliteJournal: ${JSON.stringify(options.path)} has schema version ${m.found}, this code knows up to ${m.known}; refusing to open`,
      );
    }
    const journal = new SqliteJournal(db, options);
    (options.log ?? silentLog).info({ path: options.path, from: m.from, to: m.to }, 'journal opened');
    return journal;
  } catch (e) {
    db?.close();
    throw toJournalError('open', e);
  }
}

function checkVersion(db: BetterSqlite3.Database, known: number): MigrationOutcome | { ok: false; reason: 'too_old'; found: number; known: number } {
  const found = db.pragma('user_version', { simple: true }) as number;
  if (found > known) return { ok: false, reason: 'too_new', found, known };
  if (found < known) return { ok: false, reason: 'too_old', found, known };
  return { ok: true, from: found, to: found };
}

export class SqliteJournal implements Journal {
  readonly #db: BetterSqlite3.Database;
  readonly #now: () => number;
  readonly #retentionMs: number;
  readonly #outcomeLogSize: number;
  readonly #s: JournalStatements;
  readonly #tx: JournalTransactions;

  constructor(db: BetterSqlite3.Database, options: SqliteJournalOptions) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
    this.#retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
    this.#outcomeLogSize = options.outcomeLogSize ?? DEFAULT_OUTCOME_LOG_SIZE;
    this.#s = prepareStatements(db);
    this.#tx = makeTransactions(db, this.#s, { declineLogSize: options.declineLogSize ?? 500, outcomeLogSize: this.#outcomeLogSize });
  }

  /** Runs `body`, turning every failure into a BoxError. */
  #guard<T>(fn: string, body: () => T): T {
    try {
      return body();
    } catch (e) {
      throw toJournalError(fn, e);
    }
  }

  commitAccept(debit: DebitInsert, outcome: OutcomeInsert): void {
    checkDebit(debit);
    checkText('commitAccept', 'scanKey', outcome.scanKey);
    this.#guard('commitAccept', () => this.#tx.accept(debit, outcome));
  }

  commitDecline(decline: DeclineInsert): void {
    checkText('commitDecline', 'scanKey', decline.scanKey);
    checkText('commitDecline', 'code', decline.code, 64);
    checkInt('commitDecline', 'atMs', decline.atMs, 0);
    this.#guard('commitDecline', () => this.#tx.decline(decline));
  }

  hasReplay(walletKey: string, counter: number): boolean {
    return this.#guard('hasReplay', () => (this.#s.hasReplay.get(walletKey, counter, walletKey, counter) as { seen: number }).seen === 1);
  }

  unsyncedSpend(walletKey: string, currency: string): number {
    return this.#guard('unsyncedSpend', () => (this.#s.unsynced.get(walletKey, currency) as { total: number }).total);
  }

  lastOutcome(scanKey: string): LastOutcome | undefined {
    return this.#guard('lastOutcome', () => {
      const r = this.#s.lastOutcome.get({ scanKey, window: this.#outcomeLogSize }) as RawOutcome | undefined;
      return r === undefined ? undefined : toOutcome(r);
    });
  }

  latestOutcome(): LastOutcome | undefined {
    return this.#guard('latestOutcome', () => {
      const r = this.#s.latestOutcome.get() as RawOutcome | undefined;
      return r === undefined ? undefined : toOutcome(r);
    });
  }

  recentDeclines(limit: number): { code: string; scanKey: string; atMs: number }[] {
    checkInt('recentDeclines', 'limit', limit, 0);
    return this.#guard('recentDeclines', () => this.#s.recentDeclines.all(limit) as { code: string; scanKey: string; atMs: number }[]);
  }

  pendingDebits(limit: number): DebitRow[] {
    checkInt('pendingDebits', 'limit', limit, 0);
    return this.#guard('pendingDebits', () => (this.#s.byState.all('pending', limit) as RawDebit[]).map(toDebitRow));
  }

  rejectedDebits(limit: number): DebitRow[] {
    checkInt('rejectedDebits', 'limit', limit, 0);
    return this.#guard('rejectedDebits', () => (this.#s.byState.all('rejected', limit) as RawDebit[]).map(toDebitRow));
  }

  getDebit(debitId: string): DebitRow | undefined {
    return this.#guard('getDebit', () => {
      const r = this.#s.getDebit.get(debitId) as RawDebit | undefined;
      return r === undefined ? undefined : toDebitRow(r);
    });
  }

  markUploaded(debitIds: readonly string[], batchId: string): number {
    checkText('markUploaded', 'batchId', batchId);
    const at = this.#now();
    return this.#guard('markUploaded', () =>
      this.#db.transaction(() => {
        let moved = 0;
        for (const id of debitIds) moved += this.#s.markUploaded.run(batchId, at, id).changes;
        return moved;
      })(),
    );
  }

  requeue(batchId: string): number {
    checkText('requeue', 'batchId', batchId);
    return this.#guard('requeue', () => this.#s.requeue.run(batchId).changes);
  }

  applyResults(results: readonly DebitResult[]): ApplyResultsSummary {
    for (const r of results) {
      if (r.status !== 'settled' && r.status !== 'duplicate' && r.status !== 'rejected') {
        throw new BoxError('JOURNAL_INVALID', `journal.applyResults: unknown status ${JSON.stringify(String(r.status)).slice(0, 24)}`);
      }
    }
    const at = this.#now();
    return this.#guard('applyResults', () =>
      this.#db.transaction(() => {
        const sum: ApplyResultsSummary = { applied: 0, alreadyFinal: 0, unknown: 0 };
        for (const r of results) {
          const cur = this.#s.stateOf.get(r.debitId) as { state: string } | undefined;
          if (cur === undefined) sum.unknown++;
          else if (cur.state === 'settled' || cur.state === 'rejected') sum.alreadyFinal++;
          else {
            const [state, code] =
              r.status === 'rejected' ? ['rejected', r.code ?? 'REJECTED'] : ['settled', r.status === 'duplicate' ? 'DUPLICATE' : (r.code ?? null)];
            this.#s.finalise.run(state, code, at, r.debitId);
            sum.applied++;
          }
        }
        return sum;
      })(),
    );
  }

  counts(): OutboxCounts {
    return this.#guard('counts', () => {
      const out: OutboxCounts = { pending: 0, uploaded: 0, settled: 0, rejected: 0 };
      for (const r of this.#s.counts.all() as { state: keyof OutboxCounts; n: number }[]) out[r.state] = r.n;
      return out;
    });
  }

  voidDebit(debitId: string, voidRecord: Uint8Array): VoidResult {
    checkBytes('voidDebit', 'voidRecord', voidRecord);
    const at = this.#now();
    return this.#guard('voidDebit', () =>
      this.#db.transaction((): VoidResult => {
        const cur = this.#s.stateOf.get(debitId) as { state: string; voided: number } | undefined;
        if (cur === undefined) return 'NOT_FOUND';
        if (cur.state !== 'pending') return 'NOT_PENDING';
        if (cur.voided === 1) return 'ALREADY_VOIDED';
        this.#s.setVoid.run(voidRecord, at, debitId);
        return 'VOIDED';
      }).immediate(),
    );
  }

  putCharge(c: Charge): void {
    checkText('putCharge', 'chargeId', c.chargeId);
    checkInt('putCharge', 'amount', c.amount, 1);
    checkCurrency('putCharge', c.currency);
    checkChargeState('putCharge', c.state);
    if (c.debitId !== null) checkHex('putCharge', 'debitId', c.debitId);
    this.#guard('putCharge', () =>
      this.#s.putCharge.run(c.chargeId, c.amount, c.currency, c.state, c.debitId, c.createdAtMs, c.updatedAtMs),
    );
  }

  getCharge(chargeId: string): Charge | undefined {
    return this.#guard('getCharge', () => {
      const r = this.#s.getCharge.get(chargeId) as (Charge & { state: string }) | undefined;
      return r === undefined ? undefined : toCharge(r);
    });
  }

  setChargeState(chargeId: string, state: ChargeState, atMs: number, debitId: string | null = null): boolean {
    checkChargeState('setChargeState', state);
    if (debitId !== null) checkHex('setChargeState', 'debitId', debitId);
    return this.#guard('setChargeState', () => this.#s.setChargeState.run(state, atMs, debitId, chargeId).changes === 1);
  }

  getMeta(key: string): MetaValue | undefined {
    return this.#guard('getMeta', () => {
      const r = this.#s.getMeta.get(key) as { value: string } | undefined;
      return r === undefined ? undefined : (JSON.parse(r.value) as MetaValue);
    });
  }

  setMeta(key: string, value: MetaValue): void {
    checkText('setMeta', 'key', key, 128);
    const text = JSON.stringify(value);
    if (text === undefined) throw new BoxError('JOURNAL_INVALID', `journal.setMeta: value for ${JSON.stringify(key)} is not JSON`);
    this.#guard('setMeta', () => this.#s.setMeta.run(key, text));
  }

  prune(nowMs: number): PruneCounts {
    checkInt('prune', 'nowMs', nowMs, 0);
    return this.#guard('prune', () => this.#tx.prune(nowMs, this.#retentionMs));
  }

  totals(fromMs: number, toMs: number): Record<string, CurrencyTotal> {
    return this.#guard('totals', () => {
      const out: Record<string, CurrencyTotal> = {};
      for (const r of this.#s.totals.all(fromMs, toMs) as { currency: string; count: number; amount: number }[]) {
        out[r.currency] = { count: r.count, amount: r.amount };
      }
      return out;
    });
  }

  integrityCheck(): string {
    return this.#guard('integrityCheck', () => {
      const rows = this.#db.pragma('integrity_check') as { integrity_check: string }[];
      return rows.map((r) => r.integrity_check).join('\n');
    });
  }

  /** The connection settings as SQLite reports them (diagnostics, health endpoint). */
  settings(): JournalSettings {
    return this.#guard('settings', () => {
      const q = (name: string) => this.#db.pragma(name, { simple: true });
      return {
        journalMode: String(q('journal_mode')),
        synchronous: Number(q('synchronous')),
        foreignKeys: Number(q('foreign_keys')) === 1,
        busyTimeoutMs: Number(q('busy_timeout')),
        userVersion: Number(q('user_version')),
        maxPageCount: Number(q('max_page_count')),
        pageSize: Number(q('page_size')),
      };
    });
  }

  close(): void {
    if (this.#db.open) this.#guard('close', () => this.#db.close());
  }
}

function checkChargeState(fn: string, state: unknown): void {
  if (!(CHARGE_STATES as readonly unknown[]).includes(state)) {
    throw new BoxError('JOURNAL_INVALID', `journal.${fn}: expected a charge state (${CHARGE_STATES.join('|')}), got ${JSON.stringify(String(state)).slice(0, 24)}`);
  }
}
