/**
 * What `scanner status` shows, built from the running box's parts. Pure apart from the parts it
 * is given: tests pass a journal and a fixed clock.
 */
import type { ScannerState, ScannerStats } from '../../../drivers/scanner/types.ts';
import { formatAmount } from '../../core/money.ts';
import type { ClockView } from '../../core/views.ts';
import type { Journal, MetaValue, OutboxCounts } from '../../journal/types.ts';
import { formatLocalDateTime, localDayBounds } from './local-day.ts';

/** Meta key the sync service writes after each upload round ({ atMs, ok, ... }). */
export const LAST_SYNC_META_KEY = 'sync.last';

export interface StatusDeps {
  journal: Journal;
  clock: { view(): ClockView; trusted(): boolean; nowMs(): number };
  timezone: string;
  /** The box's own card, for serial and days left. */
  card: { serial: number; merchantId: string; displayName: string; currency: string; currencyExponent: number; notAfter: number };
  scanner: () => { kind: string; state: ScannerState | 'unknown'; detail?: string; stats: ScannerStats };
  /** NFC driver status, when the box runs one. */
  nfc?: () => unknown;
  /** The watchdog's verdict, when supervised. */
  watchdog?: () => unknown;
  /** How many declines and rejected debits to list. Default 10. */
  recent?: number;
}

export interface StatusReport {
  merchantId: string;
  displayName: string;
  nowMs: number;
  timezone: string;
  outbox: OutboxCounts;
  lastSync: MetaValue | null;
  today: { date: string; fromMs: number; toMs: number; totals: { currency: string; count: number; amount: number; text: string }[] };
  recentDeclines: { code: string; atMs: number; at: string }[];
  rejectedDebits: { debitId: string; amount: string; currency: string; reason: string | null; acceptedAt: string; walletKey: string }[];
  scanner: ReturnType<StatusDeps['scanner']>;
  nfc: unknown;
  clock: { lowerMs: number; upperMs: number; trusted: boolean };
  card: { serial: number; notAfterMs: number; daysLeft: number };
  watchdog: unknown;
}

/** "3f9a12c4…e07b": enough to match a customer's complaint, not a full account key. */
export function maskWalletKey(hex: string): string {
  return hex.length <= 12 ? hex : `${hex.slice(0, 8)}…${hex.slice(-4)}`;
}

export function daysLeft(notAfterSec: number, nowMs: number): number {
  return Math.floor((notAfterSec * 1000 - nowMs) / 86400_000);
}

export function buildStatus(d: StatusDeps): StatusReport {
  const nowMs = d.clock.nowMs();
  const view = d.clock.view();
  const limit = d.recent ?? 10;
  const exp = d.card.currencyExponent;
  const day = localDayBounds(nowMs, d.timezone);
  const totals = Object.entries(d.journal.totals(day.fromMs, day.toMs)).map(([currency, t]) => ({
    currency,
    count: t.count,
    amount: t.amount,
    text: formatAmount(t.amount, currency === d.card.currency ? exp : 2, currency),
  }));
  return {
    merchantId: d.card.merchantId,
    displayName: d.card.displayName,
    nowMs,
    timezone: d.timezone,
    outbox: d.journal.counts(),
    lastSync: d.journal.getMeta(LAST_SYNC_META_KEY) ?? null,
    today: { date: day.date, fromMs: day.fromMs, toMs: day.toMs, totals },
    recentDeclines: d.journal.recentDeclines(limit).map((x) => ({ code: x.code, atMs: x.atMs, at: formatLocalDateTime(x.atMs, d.timezone) })),
    rejectedDebits: d.journal.rejectedDebits(limit).map((r) => ({
      debitId: r.debitId,
      amount: formatAmount(r.amount, r.currency === d.card.currency ? exp : 2),
      currency: r.currency,
      reason: r.resultCode,
      acceptedAt: formatLocalDateTime(r.acceptedAtMs, d.timezone),
      walletKey: maskWalletKey(r.walletKey),
    })),
    scanner: d.scanner(),
    nfc: d.nfc ? d.nfc() : { configured: false },
    clock: { lowerMs: Math.floor(view.lowerMs), upperMs: Math.floor(view.upperMs), trusted: d.clock.trusted() },
    card: { serial: d.card.serial, notAfterMs: d.card.notAfter * 1000, daysLeft: daysLeft(d.card.notAfter, nowMs) },
    watchdog: d.watchdog ? d.watchdog() : null,
  };
}

/** The readable form printed by `scanner status`. */
export function renderStatus(s: StatusReport): string {
  const t = (ms: number) => formatLocalDateTime(ms, s.timezone);
  const lines = [
    `${s.displayName} (${s.merchantId})  ${t(s.nowMs)} ${s.timezone}`,
    `scanner      ${s.scanner.kind} ${s.scanner.state}${s.scanner.detail ? ` (${s.scanner.detail})` : ''}, ${s.scanner.stats.lines} lines, dropped ${s.scanner.stats.droppedInvalid + s.scanner.stats.droppedOverflow}, reconnects ${s.scanner.stats.reconnects}`,
    `nfc          ${describeNfc(s.nfc)}`,
    `clock        ${s.clock.trusted ? 'trusted' : 'NOT trusted (using bounds)'}; lower ${new Date(s.clock.lowerMs).toISOString()}`,
    `card         serial ${s.card.serial}, ${s.card.daysLeft} days left (until ${new Date(s.card.notAfterMs).toISOString().slice(0, 10)})`,
    `uploads      pending ${s.outbox.pending}, uploaded ${s.outbox.uploaded}, settled ${s.outbox.settled}, rejected ${s.outbox.rejected}`,
    `last sync    ${s.lastSync === null ? 'never' : JSON.stringify(s.lastSync)}`,
    `today ${s.today.date}: ${s.today.totals.length === 0 ? 'no payments' : s.today.totals.map((x) => `${x.count} payments, ${x.text}`).join('; ')}`,
  ];
  if (s.recentDeclines.length > 0) {
    lines.push('last declines:');
    for (const x of s.recentDeclines) lines.push(`  ${x.at}  ${x.code}`);
  }
  if (s.rejectedDebits.length > 0) {
    lines.push('rejected debits:');
    for (const r of s.rejectedDebits) lines.push(`  ${r.acceptedAt}  ${r.amount} ${r.currency}  ${r.reason ?? '?'}  wallet ${r.walletKey}  ${r.debitId}`);
  }
  if (s.watchdog !== null) lines.push(`watchdog     ${JSON.stringify(s.watchdog)}`);
  return `${lines.join('\n')}\n`;
}

/** One readable line for the NFC status ({state, readers, code?} from the reader, or not configured). */
function describeNfc(n: unknown): string {
  if (!n || typeof n !== 'object') return 'unknown';
  const o = n as { configured?: boolean; state?: string; readers?: unknown; code?: string };
  if (o.configured === false) return 'not configured';
  const readers = Array.isArray(o.readers) && o.readers.length > 0 ? `, readers: ${o.readers.join(', ')}` : '';
  return `${o.state ?? 'unknown'}${readers}${o.code ? ` (${o.code})` : ''}`;
}
