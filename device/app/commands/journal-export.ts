/**
 * `scanner journal export --from 2026-11-01 --to 2026-11-30 [--format csv|json]`: the debits of a
 * date range for the merchant's bookkeeping. Days are local days in config.timezone, both ends
 * inclusive. Amounts use the currency's decimals; wallet keys are masked.
 *
 * Reads the journal file read-only (safe while the service runs: a WAL reader never blocks the writer).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { BoxError } from '../../core/errors.ts';
import { formatAmount } from '../../core/money.ts';
import type { BoxConfig } from '../config.ts';
import { addDays, formatLocalDateTime, localMidnightMs, parseLocalDate } from '../control/local-day.ts';
import { maskWalletKey } from '../control/status.ts';
import type { CommandIo } from './status-command.ts';

export interface ExportDebitRow {
  debitId: string;
  walletKey: string;
  amount: number;
  currency: string;
  chargeId: string | null;
  acceptedAtMs: number;
  cardSerial: string;
  state: string;
  resultCode: string | null;
  voided: boolean;
}

export interface ExportRecord {
  date: string;
  amount: string;
  currency: string;
  state: string;
  reason: string;
  wallet: string;
  debitId: string;
  chargeId: string;
  till: string;
}

export const EXPORT_COLUMNS: readonly (keyof ExportRecord)[] = ['date', 'amount', 'currency', 'state', 'reason', 'wallet', 'debitId', 'chargeId', 'till'];

/** ISO 4217 minor units from the runtime's ICU data (EUR 2, JPY 0, KWD 3); 2 when unknown. */
export function currencyDecimals(currency: string): number {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

/** [fromMs, toMs) for the inclusive local date range. */
export function exportRange(from: string, to: string, timeZone: string): { fromMs: number; toMs: number } {
  const f = parseLocalDate(from);
  const t = parseLocalDate(to);
  if (!f) throw new BoxError('EXPORT_USAGE', `journal export: --from expects a date like 2026-11-01, got ${JSON.stringify(from)}`);
  if (!t) throw new BoxError('EXPORT_USAGE', `journal export: --to expects a date like 2026-11-30, got ${JSON.stringify(to)}`);
  const fromMs = localMidnightMs(f, timeZone);
  const toMs = localMidnightMs(addDays(t, 1), timeZone);
  if (toMs <= fromMs) throw new BoxError('EXPORT_USAGE', `journal export: --to ${to} is before --from ${from}`);
  return { fromMs, toMs };
}

export function toRecords(rows: readonly ExportDebitRow[], timeZone: string): ExportRecord[] {
  return rows.map((r) => ({
    date: formatLocalDateTime(r.acceptedAtMs, timeZone),
    amount: formatAmount(r.amount, currencyDecimals(r.currency)),
    currency: r.currency,
    state: r.voided ? 'voided' : r.state,
    reason: r.resultCode ?? '',
    wallet: maskWalletKey(r.walletKey),
    debitId: r.debitId,
    chargeId: r.chargeId ?? '',
    till: r.cardSerial,
  }));
}

/** RFC 4180: quote fields holding a comma, quote or line break; a leading =+-@ is prefixed so spreadsheets do not run it. */
function csvField(v: string): string {
  const safe = /^[=+\-@]/.test(v) && !/^-?\d/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function toCsv(records: readonly ExportRecord[]): string {
  const lines = [EXPORT_COLUMNS.join(',')];
  for (const r of records) lines.push(EXPORT_COLUMNS.map((c) => csvField(r[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export async function readDebitsBetween(journalPath: string, fromMs: number, toMs: number): Promise<ExportDebitRow[]> {
  if (!existsSync(journalPath)) throw new BoxError('EXPORT_NO_JOURNAL', `journal export: no journal at ${journalPath}`);
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(journalPath, { readonly: true, fileMustExist: true });
  try {
    const cols = new Set((db.pragma('table_info(debits)') as { name: string }[]).map((c) => c.name));
    const voided = cols.has('voidRecord') ? '(voidRecord IS NOT NULL)' : '0';
    const rows = db
      .prepare(
        `SELECT debitId, walletKey, amount, currency, chargeId, acceptedAtMs, cardSerial, state, resultCode, ${voided} AS voided
         FROM debits WHERE acceptedAtMs >= ? AND acceptedAtMs < ? ORDER BY acceptedAtMs, seq`,
      )
      .all(fromMs, toMs) as (Omit<ExportDebitRow, 'voided'> & { voided: number })[];
    return rows.map((r) => ({ ...r, cardSerial: String(r.cardSerial), voided: r.voided === 1 }));
  } finally {
    db.close();
  }
}

export async function journalExportCommand(cfg: BoxConfig, o: { from: string; to: string; format: 'csv' | 'json' }, io: CommandIo): Promise<number> {
  const { fromMs, toMs } = exportRange(o.from, o.to, cfg.timezone);
  const rows = await readDebitsBetween(resolve(cfg.stateDir, 'journal.db'), fromMs, toMs);
  const records = toRecords(rows, cfg.timezone);
  io.out(o.format === 'json' ? `${JSON.stringify({ from: o.from, to: o.to, timezone: cfg.timezone, debits: records }, null, 2)}\n` : toCsv(records));
  io.err(`${records.length} debits from ${o.from} to ${o.to} (${cfg.timezone})\n`);
  return 0;
}
