/**
 * Durability ORDER of the built box, proven with strace: the journal's WAL is fsynced before the
 * first indicator write that tells the merchant "paid". SIGKILL keeps the OS page cache, so the
 * crash test alone cannot tell an fsynced commit from a cached one; the syscall trace can.
 *
 * The box runs under `strace -f -y -tt -s 128 -e trace=...` (-y prints each fd's path) with the
 * kernel-led indicator on a fake sysfs tree in a temp dir, so LED writes are plain file writes
 * with a recognisable path. One payment goes in over the simulated TCP scanner; the trace is then
 * cut at the read() that delivered that code, and checked from there.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoxProcess, demoPayer, ensureBuilt, readJournal, tcpSimPort } from '../support/box-process.ts';
import { HIL_LEDS, type HilLayout, readLed, writeHilConfig } from '../support/hil-config.ts';

/** Why strace cannot be used here, or null when it can (present, and ptrace allowed). */
function straceProblem(): string | null {
  const r = spawnSync('strace', ['-f', '-o', '/dev/null', 'true'], { encoding: 'utf8' });
  if (r.error) return 'strace is not installed (apt install strace)';
  if (r.status !== 0) return `strace cannot trace here (ptrace not permitted?): ${r.stderr.trim()}`;
  return null;
}

const PROBLEM = straceProblem();

/** One syscall from the trace, in file order; `doneAt` is the line index where it returned. */
interface Call {
  at: number;
  doneAt: number;
  pid: number;
  name: string;
  /** Path of the fd argument (strace -y), if any. */
  path: string | null;
  /** First string argument, strace-escaped, if any. */
  data: string | null;
  result: string | null;
}

const CALL = /^(\d+)\s+\S+\s+(\w+)\((.*)$/;
const RESUMED = /^(\d+)\s+\S+\s+<\.\.\. (\w+) resumed>(.*)$/;

function parseArgs(rest: string): { path: string | null; data: string | null; result: string | null } {
  const path = /^\d+<([^>]*)>/.exec(rest)?.[1] ?? null;
  const data = /"((?:[^"\\]|\\.)*)"/.exec(rest)?.[1] ?? null;
  const result = /\)\s+=\s+(-?\w+)/.exec(rest)?.[1] ?? null;
  return { path, data, result };
}

/** Parses `strace -f -tt -y` output, joining `<unfinished ...>` calls with their `<... resumed>` lines. */
function parseStrace(text: string): Call[] {
  const calls: Call[] = [];
  const open = new Map<string, Call>();
  text.split('\n').forEach((line, i) => {
    const resumed = RESUMED.exec(line);
    if (resumed) {
      const key = `${resumed[1]}:${resumed[2]}`;
      const c = open.get(key);
      if (c) {
        open.delete(key);
        c.doneAt = i;
        const more = parseArgs(resumed[3]!);
        c.data ??= more.data;
        c.result = more.result;
      }
      return;
    }
    const m = CALL.exec(line);
    if (!m) return;
    const [, pid, name, rest] = m;
    const c: Call = { at: i, doneAt: i, pid: Number(pid), name: name!, ...parseArgs(rest!) };
    if (rest!.includes('<unfinished ...>')) open.set(`${pid}:${name}`, c);
    calls.push(c);
  });
  return calls;
}


const WRITES = new Set(['write', 'pwrite64', 'writev', 'pwritev', 'pwritev2']);
const SYNCS = new Set(['fsync', 'fdatasync']);

/**
 * The ordering rule, on a parsed trace: after the read() that delivered `code`, the first LED write
 * must begin after a WAL fsync/fdatasync that started after the last WAL frame write and returned
 * successfully; the 'scan.accept' log line comes after that fsync too. Returns the first violation.
 */
function checkPaidAfterFsync(calls: Call[], o: { code: string; walPath: string; ledDir: string }): { problem: string | null; firstLed: string | null } {
  const isWal = (c: Call) => c.path === o.walPath;
  const isLed = (c: Call) => WRITES.has(c.name) && c.path?.startsWith(`${o.ledDir}/`) === true;
  const fail = (problem: string, firstLed: string | null = null) => ({ problem, firstLed });
  const anchor = calls.find((c) => c.name === 'read' && c.data?.startsWith(o.code.slice(0, 40)));
  if (!anchor) return fail('no read() of the payment code in the trace');
  const after = calls.filter((c) => c.at > anchor.at);
  const led = after.find(isLed);
  if (!led) return fail('no LED write after the scan');
  const firstLed = `${led.path!.slice(o.ledDir.length + 1)}=${led.data}`;
  const beforeLed = after.filter((c) => c.at < led.at);
  const walWrites = beforeLed.filter((c) => WRITES.has(c.name) && isWal(c));
  const last = walWrites.at(-1);
  if (!last) return fail(`no WAL write between the scan (line ${anchor.at}) and the LED (line ${led.at})`, firstLed);
  const sync = beforeLed.find((c) => SYNCS.has(c.name) && isWal(c) && c.at > last.doneAt && c.doneAt < led.at && c.result === '0');
  if (!sync) return fail(`no completed WAL fsync between its last write (line ${last.at}) and the LED write (line ${led.at})`, firstLed);
  const log = after.find((c) => c.name === 'write' && c.data?.includes('scan.accept'));
  if (!log) return fail('no scan.accept log line after the scan', firstLed);
  if (log.at < sync.doneAt) return fail(`scan.accept logged (line ${log.at}) before the fsync returned (line ${sync.doneAt})`, firstLed);
  return { problem: null, firstLed };
}

describe('checkPaidAfterFsync on hand-written traces', () => {
  const code = 'QP:THISISAPAYMENTCODEWITHENOUGHCHARACTERS0123456789';
  const wal = '/t/state/journal.db-wal';
  const led = '/t/sys/class/leds';
  const opts = { code, walPath: wal, ledDir: led };
  const t = (...lines: string[]) => parseStrace(lines.join('\n'));
  const read = `7 00:00:00.000001 read(23<socket:[1]>, "${code}\\n", 65536) = 52`;
  const frame = `7 00:00:00.000002 pwrite64(19<${wal}>, "\\0\\0", 24, 4096) = 24`;
  const sync = `7 00:00:00.000003 fsync(19<${wal}>) = 0`;
  const beep = `7 00:00:00.000004 write(24<${led}/pay-buzzer/brightness>, "1", 1) = 1`;
  const logLine = `7 00:00:00.000005 write(1<pipe:[9]>, "{\\"event\\":\\"scan.accept\\"}", 20) = 20`;

  it('accepts write -> fsync -> LED -> log', () => {
    expect(checkPaidAfterFsync(t(read, frame, sync, beep, logLine), opts)).toEqual({ problem: null, firstLed: 'pay-buzzer/brightness=1' });
  });
  it('rejects an LED write before the fsync', () => {
    expect(checkPaidAfterFsync(t(read, frame, beep, sync, logLine), opts).problem).toMatch(/no completed WAL fsync/);
  });
  it('rejects a WAL frame written after the fsync but before the LED', () => {
    expect(checkPaidAfterFsync(t(read, frame, sync, frame, beep, logLine), opts).problem).toMatch(/no completed WAL fsync/);
  });
  it('rejects an fsync still running when the LED write starts (unfinished/resumed)', () => {
    const syncStart = `7 00:00:00.000003 fsync(19<${wal}> <unfinished ...>`;
    const beepOther = `8 00:00:00.000004 write(24<${led}/pay-buzzer/brightness>, "1", 1) = 1`;
    const syncEnd = '7 00:00:00.000005 <... fsync resumed>) = 0';
    expect(checkPaidAfterFsync(t(read, frame, syncStart, beepOther, syncEnd, logLine), opts).problem).toMatch(/no completed WAL fsync/);
    expect(checkPaidAfterFsync(t(read, frame, syncStart, syncEnd, beepOther, logLine), opts).problem).toBeNull();
  });
  it('rejects a failed fsync and an fsync of another file', () => {
    expect(checkPaidAfterFsync(t(read, frame, sync.replace('= 0', '= -1 EIO (Input/output error)'), beep, logLine), opts).problem).toMatch(/fsync/);
    expect(checkPaidAfterFsync(t(read, frame, sync.replace(wal, '/t/state/journal.db'), beep, logLine), opts).problem).toMatch(/fsync/);
  });
});

describe.runIf(PROBLEM === null)('journal fsync happens before the "paid" signal (strace)', () => {
  let layout: HilLayout;
  let box: BoxProcess | undefined;
  let tracePath: string;

  beforeAll(() => {
    ensureBuilt();
    layout = writeHilConfig({ scanner: { kind: 'tcp-sim' }, indicator: 'kernel-led' });
    tracePath = join(layout.dir, 'strace.txt');
  }, 120_000);

  afterAll(async () => {
    await box?.stop();
    layout?.cleanup();
  });

  it('writes and fsyncs the WAL, then lights/beeps; no LED write for the payment precedes the fsync', async () => {
    const wrapper = ['strace', '-f', '-y', '-tt', '-s', '128', '-e', 'trace=fsync,fdatasync,write,pwrite64,writev,pwritev,pwritev2,read', '-o', tracePath];
    box = await BoxProcess.start(layout.configPath, { wrapper, readyTimeoutMs: 60_000 });
    expect(box.events('box.ready')[0]).toMatchObject({ indicator: 'kernel-led' });
    expect(readLed(layout, 'green'), 'ready shows green steady').toBe('1');

    const payer = demoPayer(layout.walletPath, layout.cardPath);
    const { text, counter } = payer.pay(100);
    const port = await tcpSimPort(box);
    const from = box.logs.length;
    await new Promise<void>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => s.end(`${text}\n`, () => resolve()));
      s.once('error', reject);
    });
    const accepted = await box.waitForEvent('scan.accept', undefined, 30_000, from);
    expect(accepted['debitId']).toBe(payer.debitId(counter));
    await box.stop(20_000);
    expect(readJournal(layout.journalPath).debits.map((d) => d.counter)).toEqual([counter]);

    const check = checkPaidAfterFsync(parseStrace(readFileSync(tracePath, 'utf8')), {
      code: text,
      // strace -y prints resolved paths.
      walPath: join(realpathSync(layout.stateDir), 'journal.db-wal'),
      ledDir: realpathSync(join(layout.sysfsRoot!, 'class', 'leds')),
    });
    expect(check.problem).toBeNull();
    // The first LED write for the payment is the accepted signal: the buzzer's first chirp (green
    // is already steady from `ready`; were it off, green would come on here).
    expect([`${HIL_LEDS.buzzer}/brightness=1`, `${HIL_LEDS.green}/brightness=1`]).toContain(check.firstLed);
  }, 180_000);
});

if (PROBLEM !== null) {
  describe('journal fsync happens before the "paid" signal (strace)', () => {
    it.skip(`skipped: ${PROBLEM}`, () => {});
  });
}
