import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BoxError } from '../../device/core/errors.ts';
import { applyMigrations, MIGRATIONS } from '../../device/journal/migrations.ts';
import { openSqliteJournal } from '../../device/journal/sqlite-journal.ts';
import { loadBetterSqlite3 } from '../../device/journal/sqlite-support.ts';
import type { DebitInsert } from '../../device/journal/types.ts';

const Driver = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const T0 = 1_750_000_000_000;

function debit(counter: number, recordSize = 4): DebitInsert {
  return {
    debitId: counter.toString(16).padStart(16, '0'),
    walletKey: 'ab'.repeat(32),
    counter,
    amount: 100,
    currency: 'EUR',
    chargeId: null,
    acceptedAtMs: T0,
    cardSerial: 'card',
    record: new Uint8Array(recordSize).fill(counter & 0xff),
    credentialExpiresAtMs: T0 + 1e9,
  };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BoxError);
    return (e as BoxError).code;
  }
  return 'NOTHING_THROWN';
}

let dir: string;
let dbPath: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'journal-fail-'));
  dbPath = path.join(dir, 'journal.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('journal migrations', () => {
  it('creates the schema on an empty database', () => {
    const j = openSqliteJournal({ path: dbPath });
    expect(j.settings().userVersion).toBe(MIGRATIONS.length);
    j.close();
    const db = new Driver(dbPath, { readonly: true });
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
    db.close();
    expect(tables).toEqual(['charges', 'debits', 'declines', 'last_outcome', 'meta', 'replay']);
  });

  it('upgrades a v1 database and keeps its rows', () => {
    const db = new Driver(dbPath);
    expect(applyMigrations(db, MIGRATIONS.slice(0, 1))).toEqual({ ok: true, from: 0, to: 1 });
    db.prepare(
      `INSERT INTO debits (debitId, walletKey, counter, amount, currency, chargeId, acceptedAtMs, cardSerial, record, state)
       VALUES ('0a0b', 'abab', 7, 500, 'EUR', NULL, 1, 'c', x'0102', 'pending')`,
    ).run();
    db.prepare("INSERT INTO replay VALUES ('abab', 7, 99)").run();
    db.close();

    const j = openSqliteJournal({ path: dbPath });
    expect(j.settings().userVersion).toBe(MIGRATIONS.length);
    expect(j.pendingDebits(5)).toMatchObject([{ debitId: '0a0b', counter: 7, amount: 500, voidRecord: null }]);
    expect(j.hasReplay('abab', 7)).toBe(true);
    expect(j.voidDebit('0a0b', new Uint8Array([1]))).toBe('VOIDED'); // v2 column
    j.putCharge({ chargeId: 'c', amount: 1, currency: 'EUR', state: 'pending', debitId: null, createdAtMs: 0, updatedAtMs: 0 }); // v2 table
    j.close();
  });

  it('applies nothing when the database is current', () => {
    openSqliteJournal({ path: dbPath }).close();
    const db = new Driver(dbPath);
    expect(applyMigrations(db)).toEqual({ ok: true, from: 3, to: 3 });
    db.close();
  });

  it('refuses a database whose schema is newer than the code (JOURNAL_TOO_NEW) and leaves it untouched', () => {
    openSqliteJournal({ path: dbPath }).close();
    const db = new Driver(dbPath);
    db.pragma('user_version = 9');
    db.close();
    expect(codeOf(() => openSqliteJournal({ path: dbPath }))).toBe('JOURNAL_TOO_NEW');
    const check = new Driver(dbPath, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(9);
    check.close();
  });
});

describe('journal storage failures are JOURNAL_IO, never silent', () => {
  it('disk full (size cap reached) fails commitAccept with JOURNAL_IO and keeps earlier debits', () => {
    const j = openSqliteJournal({ path: dbPath, maxBytes: 160 * 1024 });
    let counter = 0;
    let code = 'NOTHING_THROWN';
    while (counter < 1000 && code === 'NOTHING_THROWN') {
      code = codeOf(() => j.commitAccept(debit(counter, 2000), { scanKey: `s${counter}`, atMs: T0 }));
      if (code === 'NOTHING_THROWN') counter++;
    }
    expect(code).toBe('JOURNAL_IO');
    expect(counter).toBeGreaterThan(3);
    expect(j.counts().pending).toBe(counter); // the failed one left nothing behind
    expect(j.hasReplay('ab'.repeat(32), counter)).toBe(false);
    expect(j.integrityCheck()).toBe('ok');
    j.close();
  });

  it('a closed handle fails with JOURNAL_IO', () => {
    const j = openSqliteJournal({ path: dbPath });
    j.close();
    expect(codeOf(() => j.commitAccept(debit(1), { scanKey: 's', atMs: T0 }))).toBe('JOURNAL_IO');
    expect(codeOf(() => j.hasReplay('ab', 1))).toBe('JOURNAL_IO');
  });

  it('a read-only journal fails every write with JOURNAL_IO (SQLITE_READONLY) and still reads', () => {
    const w = openSqliteJournal({ path: dbPath });
    w.commitAccept(debit(1), { scanKey: 's', atMs: T0 });
    w.close();
    const j = openSqliteJournal({ path: dbPath, readonly: true });
    let e: BoxError | undefined;
    try {
      j.commitAccept(debit(2), { scanKey: 's2', atMs: T0 });
    } catch (err) {
      e = err as BoxError;
    }
    expect(e?.code).toBe('JOURNAL_IO');
    expect(e?.message).toMatch(/SQLITE_READONLY/);
    expect(codeOf(() => j.commitDecline({ scanKey: 'x', code: 'EXPIRED', atMs: T0 }))).toBe('JOURNAL_IO');
    expect(j.pendingDebits(10).map((r) => r.counter)).toEqual([1]);
    j.close();
  });

  it('a file that is not a database fails to open with JOURNAL_IO', () => {
    writeFileSync(dbPath, 'this is not sqlite, just text padding '.repeat(40));
    expect(codeOf(() => openSqliteJournal({ path: dbPath }))).toBe('JOURNAL_IO');
  });

  it('a missing native driver gives JOURNAL_DRIVER_MISSING naming the npm package', () => {
    let e: BoxError | undefined;
    try {
      loadBetterSqlite3('better-sqlite3-not-installed');
    } catch (err) {
      e = err as BoxError;
    }
    expect(e?.code).toBe('JOURNAL_DRIVER_MISSING');
    expect(e?.message).toMatch(/npm package better-sqlite3/);
    expect(typeof loadBetterSqlite3()).toBe('function');
  });
});

describe('journal durability across SIGKILL', () => {
  it('every debit acknowledged before SIGKILL is there after reopen, exactly once', async () => {
    const script = path.join(dir, 'writer.ts');
    writeFileSync(
      script,
      `import { openSqliteJournal } from ${JSON.stringify(path.join(repoRoot, 'device/journal/sqlite-journal.ts'))};
const j = openSqliteJournal({ path: ${JSON.stringify(dbPath)} });
for (let i = 0; ; i++) {
  j.commitAccept({ debitId: i.toString(16).padStart(16, '0'), walletKey: 'cd'.repeat(32), counter: i, amount: 1, currency: 'EUR',
    chargeId: null, acceptedAtMs: 1, cardSerial: 'c', record: new Uint8Array(64), credentialExpiresAtMs: 2 ** 40 }, { scanKey: 's' + i, atMs: 1 });
  process.stdout.write('ack ' + i + '\\n');
}
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    let acked = -1;
    let buf = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) acked = Number(l.slice(4));
        if (acked >= 200 && !child.killed) child.kill('SIGKILL');
      });
      child.on('exit', () => resolve());
    });
    const j = openSqliteJournal({ path: dbPath });
    const rows = j.pendingDebits(1_000_000);
    j.close();
    expect(acked).toBeGreaterThanOrEqual(200);
    expect(rows.length).toBeGreaterThanOrEqual(acked + 1);
    expect(rows.map((r) => r.counter)).toEqual(rows.map((_, i) => i)); // no gap, no double
  });
});
