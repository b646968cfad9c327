/**
 * `scanner status` content: local-day arithmetic in the configured zone (DST days included) and
 * the report built from a real SQLite journal.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localDayBounds, localMidnightMs, parseLocalDate, zoneOffsetMs } from '../../device/app/control/local-day.ts';
import { buildStatus, maskWalletKey, renderStatus } from '../../device/app/control/status.ts';
import { openSqliteJournal } from '../../device/journal/sqlite-journal.ts';
import type { DebitInsert, Journal } from '../../device/journal/types.ts';

describe('local days', () => {
  it('finds local midnight in Europe/Berlin in winter (+1) and summer (+2)', () => {
    expect(localMidnightMs({ year: 2026, month: 11, day: 15 }, 'Europe/Berlin')).toBe(Date.UTC(2026, 10, 14, 23));
    expect(localMidnightMs({ year: 2026, month: 7, day: 1 }, 'Europe/Berlin')).toBe(Date.UTC(2026, 5, 30, 22));
    expect(zoneOffsetMs(Date.UTC(2026, 6, 1), 'Europe/Berlin')).toBe(2 * 3600_000);
  });

  it('gives 23- and 25-hour days on the DST changes', () => {
    const spring = localDayBounds(Date.UTC(2026, 2, 29, 12), 'Europe/Berlin');
    expect(spring.date).toBe('2026-03-29');
    expect(spring.toMs - spring.fromMs).toBe(23 * 3600_000);
    const autumn = localDayBounds(Date.UTC(2026, 9, 25, 12), 'Europe/Berlin');
    expect(autumn.toMs - autumn.fromMs).toBe(25 * 3600_000);
  });

  it('puts 23:30 UTC into the next local day east of UTC and keeps it west of UTC', () => {
    const t = Date.UTC(2026, 10, 1, 23, 30);
    expect(localDayBounds(t, 'Europe/Berlin').date).toBe('2026-11-02');
    expect(localDayBounds(t, 'UTC').date).toBe('2026-11-01');
    expect(localDayBounds(t, 'America/New_York').date).toBe('2026-11-01');
  });

  it('rejects unknown zones and impossible dates', () => {
    expect(() => localDayBounds(0, 'Mars/Olympus')).toThrow(/Mars\/Olympus/);
    expect(parseLocalDate('2026-02-30')).toBeUndefined();
    expect(parseLocalDate('2026-2-3')).toBeUndefined();
    expect(parseLocalDate('2026-11-30')).toEqual({ year: 2026, month: 11, day: 30 });
  });
});

let dir: string;
let journal: Journal;
let seq = 0;

function debit(atMs: number, amount: number, walletKey = 'ab'.repeat(32)): DebitInsert {
  seq++;
  return {
    debitId: seq.toString(16).padStart(32, '0'),
    walletKey,
    counter: seq,
    amount,
    currency: 'EUR',
    chargeId: null,
    acceptedAtMs: atMs,
    cardSerial: '1000',
    record: new Uint8Array([1, 2, 3]),
    credentialExpiresAtMs: atMs + 86400_000 * 30,
  };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'qrpay-status-'));
  journal = openSqliteJournal({ path: join(dir, 'journal.db'), retentionMs: 30 * 86400_000 });
});
afterEach(() => {
  journal.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('buildStatus', () => {
  // 2026-11-20 10:00 Berlin = 09:00 UTC
  const now = Date.UTC(2026, 10, 20, 9);
  const card = { serial: 1000, merchantId: 'DEMO-CAFE', displayName: 'Demo Café', currency: 'EUR', currencyExponent: 2, notAfter: Math.floor(now / 1000) + 10 * 86400 + 3600 };
  const scanner = () => ({ kind: 'serial', state: 'connected' as const, stats: { lines: 4, droppedOverflow: 0, droppedInvalid: 1, reconnects: 0 } });
  const clock = { nowMs: () => now, view: () => ({ lowerMs: now - 1000, upperMs: now + 600_000 }), trusted: () => true };

  it("counts today's payments in the merchant's zone, lists declines and rejected debits with reasons", () => {
    journal.commitAccept(debit(Date.UTC(2026, 10, 19, 22, 30), 250), { scanKey: 'k1', atMs: 1 }); // 23:30 Berlin on the 19th: yesterday
    journal.commitAccept(debit(Date.UTC(2026, 10, 19, 23, 30), 1250), { scanKey: 'k2', atMs: 2 }); // 00:30 Berlin on the 20th: today
    const rejected = debit(Date.UTC(2026, 10, 20, 8), 990, 'cd'.repeat(32));
    journal.commitAccept(rejected, { scanKey: 'k3', atMs: 3 });
    journal.markUploaded([rejected.debitId], 'b1');
    journal.applyResults([{ debitId: rejected.debitId, status: 'rejected', code: 'CREDENTIAL_REVOKED' }]);
    journal.commitDecline({ scanKey: 'k4', atMs: Date.UTC(2026, 10, 20, 8, 30), code: 'EXPIRED' });
    journal.setMeta('sync.last', { atMs: now - 60_000, ok: true });

    const s = buildStatus({ journal, clock, timezone: 'Europe/Berlin', card, scanner });
    expect(s.today.date).toBe('2026-11-20');
    expect(s.today.totals).toEqual([{ currency: 'EUR', count: 1, amount: 1250, text: '12.50 EUR' }]);
    expect(s.outbox).toEqual({ pending: 2, uploaded: 0, settled: 0, rejected: 1 });
    expect(s.lastSync).toEqual({ atMs: now - 60_000, ok: true });
    expect(s.recentDeclines).toEqual([{ code: 'EXPIRED', atMs: Date.UTC(2026, 10, 20, 8, 30), at: '2026-11-20 09:30:00' }]);
    expect(s.rejectedDebits).toEqual([
      { debitId: rejected.debitId, amount: '9.90', currency: 'EUR', reason: 'CREDENTIAL_REVOKED', acceptedAt: '2026-11-20 09:00:00', walletKey: 'cdcdcdcd…cdcd' },
    ]);
    expect(s.card).toEqual({ serial: 1000, notAfterMs: card.notAfter * 1000, daysLeft: 10 });
    expect(s.clock.trusted).toBe(true);
    expect(s.nfc).toEqual({ configured: false });
    const text = renderStatus(s);
    expect(text).toContain('today 2026-11-20: 1 payments, 12.50 EUR');
    expect(text).toContain('CREDENTIAL_REVOKED');
    expect(text).not.toContain('cd'.repeat(32));
  });

  it('masks wallet keys to a prefix and suffix', () => {
    expect(maskWalletKey('0123456789abcdef'.repeat(4))).toBe('01234567…cdef');
  });
});
