/** Helpers of the SQLite journal: driver loading, error mapping, input checks, row mapping. */
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { BoxError } from '../core/errors.ts';
import type { Charge, ChargeState, DebitInsert, DebitRow, DebitState, LastOutcome } from './types.ts';

export type SqliteDriver = typeof BetterSqlite3;

/** Loads better-sqlite3 on first use, with an error that says what to install. */
export function loadBetterSqlite3(moduleName = 'better-sqlite3'): SqliteDriver {
  try {
    return createRequire(import.meta.url)(moduleName) as SqliteDriver;
  } catch (e) {
    throw new BoxError(
      'JOURNAL_DRIVER_MISSING',
      `openSqliteJournal: cannot load the native module ${JSON.stringify(moduleName)}; install the npm package better-sqlite3 ` +
        `(building it needs the Debian packages build-essential and python3)`,
      { cause: e },
    );
  }
}

const BUSY_CODES = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED']);

/**
 * Maps anything thrown by the driver to a BoxError. A UNIQUE / PRIMARY KEY violation is
 * JOURNAL_DUPLICATE; every other failure is JOURNAL_IO, so the caller never shows green.
 */
export function toJournalError(fn: string, e: unknown): BoxError {
  if (e instanceof BoxError) return e;
  const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : undefined;
  const detail = e instanceof Error ? e.message : String(e);
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return new BoxError('JOURNAL_DUPLICATE', `journal.${fn}: duplicate (${detail})`, { cause: e });
  }
  const retryable = code !== undefined && BUSY_CODES.has(code);
  return new BoxError('JOURNAL_IO', `journal.${fn}: storage failure ${code ?? 'unknown'} (${detail})`, { cause: e, retryable });
}

function invalid(fn: string, what: string, got: string): BoxError {
  return new BoxError('JOURNAL_INVALID', `journal.${fn}: expected ${what}, got ${got}`);
}

const HEX_RE = /^[0-9a-f]+$/;
const CURRENCY_RE = /^[A-Z]{3}$/;

export function checkHex(fn: string, name: string, v: unknown): void {
  if (typeof v !== 'string' || v.length === 0 || v.length > 256 || !HEX_RE.test(v)) {
    throw invalid(fn, `${name} as lowercase hex`, typeof v === 'string' ? `string(${v.length})` : typeof v);
  }
}

export function checkInt(fn: string, name: string, v: unknown, min: number): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw invalid(fn, `${name} as an integer >= ${min}`, typeof v === 'number' ? String(v) : typeof v);
  }
}

export function checkCurrency(fn: string, v: unknown): void {
  if (typeof v !== 'string' || !CURRENCY_RE.test(v)) throw invalid(fn, 'currency as 3 upper-case letters', JSON.stringify(String(v)).slice(0, 12));
}

export function checkText(fn: string, name: string, v: unknown, max = 256): void {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) {
    throw invalid(fn, `${name} as a non-empty string of at most ${max} chars`, typeof v === 'string' ? `string(${v.length})` : typeof v);
  }
}

export function checkBytes(fn: string, name: string, v: unknown): void {
  if (!(v instanceof Uint8Array) || v.length === 0) throw invalid(fn, `${name} as non-empty bytes`, v instanceof Uint8Array ? 'empty' : typeof v);
}

export function checkDebit(d: DebitInsert): void {
  const fn = 'commitAccept';
  checkHex(fn, 'debitId', d.debitId);
  checkHex(fn, 'walletKey', d.walletKey);
  checkInt(fn, 'counter', d.counter, 0);
  checkInt(fn, 'amount', d.amount, 1);
  checkCurrency(fn, d.currency);
  if (d.chargeId !== null) checkText(fn, 'chargeId', d.chargeId);
  checkInt(fn, 'acceptedAtMs', d.acceptedAtMs, 0);
  checkText(fn, 'cardSerial', d.cardSerial);
  checkBytes(fn, 'record', d.record);
  checkInt(fn, 'credentialExpiresAtMs', d.credentialExpiresAtMs, 0);
}

const copyBytes = (b: Uint8Array): Uint8Array => new Uint8Array(b);

/** A debits row as SQLite returns it: the state is unchecked text until toDebitRow. */
export type RawDebit = Omit<DebitRow, 'state'> & { state: string };

export const DEBIT_COLUMNS =
  'debitId, walletKey, counter, amount, currency, chargeId, acceptedAtMs, cardSerial, record, state, batchId, resultCode, voidRecord';

export function toDebitRow(r: RawDebit): DebitRow {
  return {
    ...r,
    record: copyBytes(r.record),
    state: r.state as DebitState,
    voidRecord: r.voidRecord === null ? null : copyBytes(r.voidRecord),
  };
}

export interface RawOutcome {
  scanKey: string;
  kind: string;
  code: string | null;
  debitId: string | null;
  atMs: number;
}

export function toOutcome(r: RawOutcome): LastOutcome {
  const out: LastOutcome = { kind: r.kind === 'accept' ? 'accept' : 'decline', scanKey: r.scanKey, atMs: r.atMs };
  if (r.code !== null) out.code = r.code;
  if (r.debitId !== null) out.debitId = r.debitId;
  return out;
}

export function toCharge(r: Charge & { state: string }): Charge {
  return { ...r, state: r.state as ChargeState };
}
