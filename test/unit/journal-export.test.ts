/**
 * `scanner journal export`: inclusive local-date ranges, amounts with the currency's decimals,
 * masked wallet keys, CSV quoting, and rows read from a real journal file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { currencyDecimals, exportRange, journalExportCommand, readDebitsBetween, toCsv, toRecords } from '../../device/app/commands/journal-export.ts';
import { parseConfig } from '../../device/app/config.ts';
import { openSqliteJournal } from '../../device/journal/sqlite-journal.ts';
import type { DebitInsert } from '../../device/journal/types.ts';

describe('export range and formatting', () => {
  it('covers whole local days, both ends included', () => {
    expect(exportRange('2026-11-01', '2026-11-30', 'Europe/Berlin')).toEqual({ fromMs: Date.UTC(2026, 9, 31, 23), toMs: Date.UTC(2026, 10, 30, 23) });
    expect(exportRange('2026-11-05', '2026-11-05', 'UTC')).toEqual({ fromMs: Date.UTC(2026, 10, 5), toMs: Date.UTC(2026, 10, 6) });
    expect(() => exportRange('2026-11-30', '2026-11-01', 'UTC')).toThrow(/before --from/);
    expect(() => exportRange('30.11.2026', '2026-11-01', 'UTC')).toThrow(/--from expects a date/);
  });

  it('formats amounts with ISO 4217 decimals', () => {
    expect(currencyDecimals('EUR')).toBe(2);
    expect(currencyDecimals('JPY')).toBe(0);
    expect(currencyDecimals('KWD')).toBe(3);
    const base = { debitId: 'd1', walletKey: 'ab'.repeat(32), chargeId: null, acceptedAtMs: Date.UTC(2026, 10, 1, 12), cardSerial: '1000', state: 'settled', resultCode: null, voided: false };
    const recs = toRecords(
      [
        { ...base, amount: 1250, currency: 'EUR' },
        { ...base, debitId: 'd2', amount: 500, currency: 'JPY', voided: true },
      ],
      'Europe/Berlin',
    );
    expect(recs[0]).toEqual({ date: '2026-11-01 13:00:00', amount: '12.50', currency: 'EUR', state: 'settled', reason: '', wallet: 'abababab…abab', debitId: 'd1', chargeId: '', till: '1000' });
    expect(recs[1]).toMatchObject({ amount: '500', currency: 'JPY', state: 'voided' });
  });

  it('quotes CSV fields and defuses spreadsheet formulas', () => {
    const r = { date: '2026-11-01 13:00:00', amount: '1.00', currency: 'EUR', state: 'pending', reason: '', wallet: 'w', debitId: 'd', chargeId: '=HYPERLINK("x"),1', till: '1' };
    const csv = toCsv([r]);
    expect(csv.split('\r\n')[0]).toBe('date,amount,currency,state,reason,wallet,debitId,chargeId,till');
    expect(csv.split('\r\n')[1]).toBe('2026-11-01 13:00:00,1.00,EUR,pending,,w,d,"\'=HYPERLINK(""x""),1",1');
  });
});

describe('export from a journal file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qrpay-export-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const journal = openSqliteJournal({ path: join(dir, 'journal.db'), retentionMs: 365 * 86400_000 });
  let n = 0;
  const debit = (atMs: number, amount: number, chargeId: string | null = null): DebitInsert => {
    n++;
    return {
      debitId: `d${n}`.padEnd(32, '0'),
      walletKey: 'ef'.repeat(32),
      counter: n,
      amount,
      currency: 'EUR',
      chargeId,
      acceptedAtMs: atMs,
      cardSerial: '1001',
      record: new Uint8Array([n]),
      credentialExpiresAtMs: atMs + 365 * 86400_000,
    };
  };
  journal.commitAccept(debit(Date.UTC(2026, 9, 31, 22, 59), 100), { scanKey: 's1', atMs: 1 }); // 23:59 Berlin on Oct 31: out
  journal.commitAccept(debit(Date.UTC(2026, 9, 31, 23, 0), 200, 'C-1'), { scanKey: 's2', atMs: 2 }); // 00:00 Nov 1: in
  journal.commitAccept(debit(Date.UTC(2026, 10, 30, 22, 59), 300), { scanKey: 's3', atMs: 3 }); // 23:59 Nov 30: in
  journal.commitAccept(debit(Date.UTC(2026, 10, 30, 23, 0), 400), { scanKey: 's4', atMs: 4 }); // Dec 1: out
  journal.markUploaded(['d3'.padEnd(32, '0')], 'b1');
  journal.applyResults([{ debitId: 'd3'.padEnd(32, '0'), status: 'rejected', code: 'INSUFFICIENT_FUNDS' }]);
  journal.close();

  it('reads exactly the debits inside the local range', async () => {
    const { fromMs, toMs } = exportRange('2026-11-01', '2026-11-30', 'Europe/Berlin');
    const rows = await readDebitsBetween(join(dir, 'journal.db'), fromMs, toMs);
    expect(rows.map((r) => r.amount)).toEqual([200, 300]);
    expect(rows[1]).toMatchObject({ state: 'rejected', resultCode: 'INSUFFICIENT_FUNDS', voided: false });
  });

  it('prints CSV or JSON through the command', async () => {
    const cfg = parseConfig(
      { stateDir: dir, currency: 'EUR', timezone: 'Europe/Berlin', amount: { mode: 'pos' }, scanner: { kind: 'tcp-sim' }, indicator: { kind: 'console' } },
      'test',
    );
    let out = '';
    let err = '';
    const io = { out: (t: string) => (out += t), err: (t: string) => (err += t) };
    expect(await journalExportCommand(cfg, { from: '2026-11-01', to: '2026-11-30', format: 'csv' }, io)).toBe(0);
    const lines = out.trim().split('\r\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toBe(`2026-11-01 00:00:00,2.00,EUR,pending,,efefefef…efef,${'d2'.padEnd(32, '0')},C-1,1001`);
    expect(lines[2]).toContain('3.00,EUR,rejected,INSUFFICIENT_FUNDS');
    expect(err).toContain('2 debits');
    out = '';
    await journalExportCommand(cfg, { from: '2026-11-01', to: '2026-11-01', format: 'json' }, io);
    const json = JSON.parse(out) as { debits: { amount: string }[]; timezone: string };
    expect(json.timezone).toBe('Europe/Berlin');
    expect(json.debits.map((d) => d.amount)).toEqual(['2.00']);
  });
});
