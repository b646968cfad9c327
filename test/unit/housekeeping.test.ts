import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLog } from '../../drivers/common/log.ts';
import { runHousekeeping } from '../../device/app/housekeeping.ts';
import { openSqliteJournal } from '../../device/journal/sqlite-journal.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function journal() {
  const dir = mkdtempSync(join(tmpdir(), 'hk-'));
  dirs.push(dir);
  return { dir, j: openSqliteJournal({ path: join(dir, 'journal.db'), retentionMs: 1000 }) };
}

describe('housekeeping', () => {
  it('prunes replay entries of expired credentials by the clock lower bound and keeps live ones', () => {
    const { dir, j } = journal();
    const debit = (id: string, counter: number, expires: number) =>
      j.commitAccept(
        { debitId: id, walletKey: 'aa'.repeat(32), counter, amount: 100, currency: 'EUR', chargeId: null, acceptedAtMs: 1000, cardSerial: '1', record: new Uint8Array([1]), credentialExpiresAtMs: expires },
        { scanKey: `s${counter}`, atMs: 1000 },
      );
    debit('01'.repeat(16), 1, 5_000);
    debit('02'.repeat(16), 2, 50_000);
    const r = runHousekeeping({ journal: j, stateDir: dir, clock: () => ({ lowerMs: 10_000, upperMs: 1e15 }), log: silentLog, lowDiskBytes: 1 });
    expect(r.pruned.replay).toBe(1);
    expect(j.hasReplay('aa'.repeat(32), 2)).toBe(true);
    j.close();
  });

  it('warns before the disk fills', () => {
    const { dir, j } = journal();
    const r = runHousekeeping({
      journal: j,
      stateDir: dir,
      clock: () => ({ lowerMs: 0, upperMs: 1 }),
      log: silentLog,
      lowDiskBytes: 64 * 1024 * 1024,
      disk: () => ({ freeBytes: 10 * 1024 * 1024, totalBytes: 16 * 1024 * 1024 * 1024 }),
    });
    expect(r.lowDisk).toMatch(/low disk space/);
    j.close();
  });
});
