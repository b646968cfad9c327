/**
 * The built box (dist/scanner.mjs) as a real child process, for hardware-in-the-loop, crash and
 * durability tests: build it when stale, start it, read its pino JSON lines and console indicator
 * lines from stdout, wait for events, signal it, and make payment codes with the demo wallet.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { nobleProvider } from '../../device/core/crypto/noble.ts';
import { toHex } from '../../device/core/encoding/bytes.ts';
import { cardFromText } from '../../device/core/protocol/card.ts';
import { debitIdOf } from '../../device/core/protocol/debit.ts';
import { openWallet } from '../../wallet/cli/wallet-file.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const scannerBundle = join(repoRoot, 'dist', 'scanner.mjs');
const BUNDLES = ['scanner.mjs', 'wallet.mjs', 'backend.mjs'].map((f) => join(repoRoot, 'dist', f));
const SOURCE_DIRS = ['device', 'drivers', 'wallet', 'backend'];

function newestSourceMs(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSourceMs(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** True when a bundle is missing or older than build.mjs, package-lock.json or any source under device/ drivers/ wallet/ backend/. */
export function bundleIsStale(): boolean {
  if (!BUNDLES.every((f) => existsSync(f))) return true;
  const built = Math.min(...BUNDLES.map((f) => statSync(f).mtimeMs));
  const inputs = [join(repoRoot, 'build.mjs'), join(repoRoot, 'package-lock.json')].filter((f) => existsSync(f)).map((f) => statSync(f).mtimeMs);
  const newest = Math.max(...inputs, ...SOURCE_DIRS.map((d) => newestSourceMs(join(repoRoot, d))));
  return newest > built;
}

/** Runs `node build.mjs --quiet` when the bundles are stale (build.mjs replaces files atomically, so parallel calls are safe). */
export function ensureBuilt(): void {
  if (!bundleIsStale()) return;
  const r = spawnSync(process.execPath, [join(repoRoot, 'build.mjs'), '--quiet'], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`ensureBuilt: node build.mjs failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
}

/** One pino line from the box's stdout. */
export interface LogLine {
  level: number;
  time: string;
  msg: string;
  event?: string;
  [key: string]: unknown;
}

export interface StartOptions {
  /** Argv put in front of `node dist/scanner.mjs run --config <file>`, e.g. ['strace', '-f', '-o', f]. */
  wrapper?: string[];
  env?: NodeJS.ProcessEnv;
  /** Wait for the 'box.ready' line (default true). */
  waitReady?: boolean;
  readyTimeoutMs?: number;
}

export interface BoxExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The box as a child process. Every stdout line is either a JSON log line or a console indicator line. */
export class BoxProcess {
  readonly logs: LogLine[] = [];
  /** Non-JSON stdout lines: the console indicator (`● ACCEPTED  green ■ beep-beep`). */
  readonly consoleLines: string[] = [];
  stderr = '';
  readonly exited: Promise<BoxExit>;
  private exit: BoxExit | null = null;
  private partial = '';
  private readonly waiters = new Set<() => void>();

  private constructor(
    readonly child: ChildProcess,
    readonly configPath: string,
    private readonly wrapped: boolean,
  ) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => this.onStdout(chunk));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolveExit) => {
      child.once('close', (code, signal) => {
        if (this.partial) this.onLine(this.partial);
        this.partial = '';
        this.exit = { code, signal };
        this.notify();
        resolveExit(this.exit);
      });
    });
  }

  /** Spawns the box (wrapped, e.g. by strace, when asked); resolves after 'box.ready' unless waitReady is false. */
  static async start(configPath: string, opts: StartOptions = {}): Promise<BoxProcess> {
    const argv = [...(opts.wrapper ?? []), process.execPath, scannerBundle, 'run', '--config', configPath];
    const child = spawn(argv[0]!, argv.slice(1), { cwd: repoRoot, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const box = new BoxProcess(child, configPath, (opts.wrapper ?? []).length > 0);
    if (opts.waitReady !== false) await box.waitForEvent('box.ready', undefined, opts.readyTimeoutMs ?? 30_000);
    return box;
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** Events of all JSON lines, in order. */
  events(name: string): LogLine[] {
    return this.logs.filter((l) => l.event === name);
  }

  /**
   * Resolves with the first log line from index `from` on that matches; rejects after `timeoutMs`
   * or when the box exits first (with its last lines and stderr in the message).
   */
  waitFor(pred: (l: LogLine) => boolean, timeoutMs = 20_000, from = 0, what = 'log line'): Promise<LogLine> {
    return this.waitUntil(() => this.logs.slice(from).find(pred), timeoutMs, what);
  }

  waitForEvent(event: string, pred?: (l: LogLine) => boolean, timeoutMs = 20_000, from = 0): Promise<LogLine> {
    return this.waitFor((l) => l.event === event && (pred ? pred(l) : true), timeoutMs, from, `event ${event}`);
  }

  /** Resolves when `count` console indicator lines from index `from` on match `re`. */
  waitForConsole(re: RegExp, count = 1, timeoutMs = 20_000, from = 0): Promise<string[]> {
    return this.waitUntil(
      () => {
        const hits = this.consoleLines.slice(from).filter((l) => re.test(l));
        return hits.length >= count ? hits : undefined;
      },
      timeoutMs,
      `${count} console line(s) ${re}`,
    );
  }

  /**
   * The pid to signal: the box itself, also when it runs under a wrapper (strace forwards nothing
   * reliably), found through /proc/<wrapper>/task/<tid>/children.
   */
  async boxPid(timeoutMs = 10_000): Promise<number> {
    if (!this.wrapped) return this.child.pid!;
    const wrapperPid = this.child.pid!;
    return this.waitUntil(() => childPids(wrapperPid)[0], timeoutMs, `child of wrapper ${wrapperPid}`);
  }

  /** Sends `signal` to the box and waits for the process (and its wrapper) to end. */
  async kill(signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 20_000): Promise<BoxExit> {
    if (this.exit) return this.exit;
    const pid = await this.boxPid();
    try {
      process.kill(pid, signal);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
    return this.waitExit(timeoutMs);
  }

  /** SIGTERM (orderly stop), then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 10_000): Promise<BoxExit> {
    if (this.exit) return this.exit;
    const pid = await this.boxPid().catch(() => this.child.pid!);
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
    try {
      return await this.waitExit(graceMs);
    } catch {
      for (const p of [pid, this.child.pid!]) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      return this.exited;
    }
  }

  /** A digest of the last lines and stderr, for failure messages. */
  tail(lines = 15): string {
    const last = this.logs.slice(-lines).map((l) => JSON.stringify(l));
    return `last log lines:\n${last.join('\n')}\nconsole: ${JSON.stringify(this.consoleLines.slice(-5))}\nstderr: ${this.stderr.slice(-2000)}`;
  }

  private async waitExit(timeoutMs: number): Promise<BoxExit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`BoxProcess: no exit within ${timeoutMs} ms\n${this.tail()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private waitUntil<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolveWait, reject) => {
      const check = (): boolean => {
        const hit = probe();
        if (hit !== undefined) {
          done();
          resolveWait(hit);
          return true;
        }
        if (this.exit) {
          done();
          reject(new Error(`BoxProcess: exited (${JSON.stringify(this.exit)}) before ${what}\n${this.tail()}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`BoxProcess: no ${what} within ${timeoutMs} ms\n${this.tail()}`));
      }, timeoutMs);
      // Polling as a fallback: /proc children appear without any stdout activity.
      const poll = setInterval(check, 50);
      const listener = () => {
        check();
      };
      const done = () => {
        clearTimeout(timer);
        clearInterval(poll);
        this.waiters.delete(listener);
      };
      if (!check()) this.waiters.add(listener);
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private onStdout(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.onLine(line);
    this.notify();
  }

  private onLine(line: string): void {
    if (line.startsWith('{')) {
      try {
        this.logs.push(JSON.parse(line) as LogLine);
        return;
      } catch {
        // a line cut by SIGKILL: keep it as text
      }
    }
    if (line.trim() !== '') this.consoleLines.push(line);
  }
}

/** Direct children of `pid` (all its threads), from /proc; empty when unknown. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // process gone or no /proc
  }
  return out;
}

/** The TCP port the box's simulated scanner listens on (from its 'tcp sim listening' line). */
export async function tcpSimPort(box: BoxProcess, from = 0, timeoutMs = 20_000): Promise<number> {
  const line = await box.waitFor((l) => l.msg === 'scanner: tcp sim listening' && typeof l['port'] === 'number', timeoutMs, from, 'tcp sim port');
  return line['port'] as number;
}

/**
 * The demo wallet the box provisioned under `demoDir` (start the box once first). Every pay()
 * uses the next counter and persists it, exactly like `npm run wallet -- pay`.
 */
export interface DemoPayer {
  /** A payment code for `amountMinor` cents with the next counter (persisted before it returns). */
  pay(amountMinor: number): { text: string; counter: number };
  /** The wallet public key, hex (the journal's walletKey). */
  walletKey: string;
  /** The debit id the box derives for this wallet's `counter` (hex). */
  debitId(counter: number): string;
}

/**
 * The demo wallet the box provisioned under its demo dir (start the box once first). Every pay()
 * uses the next counter and persists it, exactly like `npm run wallet -- pay`.
 */
export function demoPayer(walletPath: string, cardPath: string): DemoPayer {
  const card = cardFromText(readFileSync(cardPath, 'utf8').trim());
  if (!card) throw new Error(`demoPayer: ${cardPath} holds no valid identity card`);
  const wallet = openWallet(nobleProvider, walletPath);
  return {
    pay: (amountMinor) => wallet.pay(card, amountMinor),
    walletKey: toHex(wallet.publicKey),
    debitId: (counter) => toHex(debitIdOf(nobleProvider, wallet.publicKey, counter)),
  };
}

export interface JournalDebit {
  debitId: string;
  walletKey: string;
  counter: number;
  amount: number;
  state: string;
}

/** Reads the box's journal read-only (safe while the box runs: WAL readers do not block the writer). */
export function readJournal(path: string): {
  debits: JournalDebit[];
  duplicates: { walletKey: string; counter: number; n: number }[];
  declines: { code: string; scanKey: string }[];
  integrity: string;
} {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const debits = db.prepare('SELECT debitId, walletKey, counter, amount, state FROM debits ORDER BY seq').all() as JournalDebit[];
    const duplicates = db.prepare('SELECT walletKey, counter, COUNT(*) AS n FROM debits GROUP BY walletKey, counter HAVING n > 1').all() as {
      walletKey: string;
      counter: number;
      n: number;
    }[];
    const declines = db.prepare('SELECT code, scanKey FROM declines ORDER BY id').all() as { code: string; scanKey: string }[];
    const rows = db.pragma('integrity_check') as { integrity_check: string }[];
    return { debits, duplicates, declines, integrity: rows.map((r) => r.integrity_check).join('; ') };
  } finally {
    db.close();
  }
}
