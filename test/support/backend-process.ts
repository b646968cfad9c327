/**
 * The built reference back end (dist/backend.mjs serve) as a real child process, for fault
 * injection: start it on a SQLite file, read its pino JSON lines, SIGKILL it by pid and start it
 * again on the same file. Plus BatchRelay, a transparent TCP relay between the box's client and
 * the back end that sees where each batch request is on the wire, so a test can kill the back end
 * at a chosen moment: with the request half read, with the request in hand, or after its commit
 * with the ack held back from the box.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { repoRoot } from './box-process.ts';

export const backendBundle = join(repoRoot, 'dist', 'backend.mjs');

export interface BackendStartOptions {
  db: string;
  adminToken: string;
  enrolToken: string;
  /** Default 0 (any free port); the chosen one is read from the 'backend: listening' line. */
  port?: number;
  readyTimeoutMs?: number;
}

export interface BackendExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** `node dist/backend.mjs serve …`, spawned directly so that child.pid is the back end itself. */
export class BackendProcess {
  readonly logs: Record<string, unknown>[] = [];
  stderr = '';
  readonly exited: Promise<BackendExit>;
  private exit: BackendExit | null = null;
  private partial = '';
  private readonly waiters = new Set<() => void>();
  /** http://127.0.0.1:<port>, known once the back end logged 'backend: listening'. */
  url = '';
  port = 0;

  private constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => this.onStdout(chunk));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolveExit) => {
      child.once('close', (code, signal) => {
        this.exit = { code, signal };
        this.notify();
        resolveExit(this.exit);
      });
    });
  }

  /** Spawns the back end and resolves once it listens (rejects with its output if it exits first). */
  static async start(o: BackendStartOptions): Promise<BackendProcess> {
    const argv = [backendBundle, 'serve', '--port', String(o.port ?? 0), '--host', '127.0.0.1', '--db', o.db, '--admin-token', o.adminToken, '--enrol-token', o.enrolToken];
    const child = spawn(process.execPath, argv, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    const b = new BackendProcess(child);
    const line = await b.waitForLog((l) => l['msg'] === 'backend: listening', o.readyTimeoutMs ?? 30_000);
    b.url = String(line['url']);
    b.port = Number(new URL(b.url).port);
    return b;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exit === null;
  }

  waitForLog(pred: (l: Record<string, unknown>) => boolean, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.logs.find(pred);
        if (hit) return done(() => resolve(hit));
        if (this.exit) return done(() => reject(new Error(`BackendProcess: exited ${JSON.stringify(this.exit)} before the log line\n${this.tail()}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`BackendProcess: no matching log line within ${timeoutMs} ms\n${this.tail()}`))), timeoutMs);
      const done = (f: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        f();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** SIGKILL to this process only (by pid); resolves when it is gone. */
  async kill(): Promise<BackendExit> {
    this.signal('SIGKILL');
    return this.exited;
  }

  /** Sends a signal to this process only (by pid), now; no-op once it exited. */
  signal(sig: NodeJS.Signals): void {
    if (this.exit) return;
    try {
      process.kill(this.pid, sig);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  }

  /** SIGTERM (the back end closes its server and database), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<BackendExit> {
    if (this.exit) return this.exit;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  tail(lines = 10): string {
    return `last log lines:\n${this.logs
      .slice(-lines)
      .map((l) => JSON.stringify(l))
      .join('\n')}\nstderr: ${this.stderr.slice(-2000)}`;
  }

  private onStdout(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const p of parts) {
      try {
        this.logs.push(JSON.parse(p) as Record<string, unknown>);
      } catch {
        this.logs.push({ msg: p });
      }
    }
    this.notify();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

const BATCH_REQUEST = 'POST /v1/box/batches ';

/** One box connection through the relay, as the test's hooks see it. */
export interface RelayConnection {
  /** Back-end bytes for the box are kept back (not forwarded) from now on. */
  holdResponses(): void;
  /** Box bytes for the back end are kept back from now on. */
  holdRequests(): void;
  /** Ends both sides (the box sees a dropped connection). */
  drop(): void;
}

export interface RelayHooks {
  /**
   * The first chunk of batch request number `n` (1-based, over all connections) arrived from the
   * box. Return how many of its bytes to forward now (default all).
   */
  onBatchRequest?(n: number, conn: RelayConnection, chunk: Buffer): number | undefined;
  /** The last byte of batch request `n` (by its content-length) was handed to the back end. */
  onBatchRequestSent?(n: number, conn: RelayConnection): void;
  /** The first bytes of the back end's answer to batch request `n` arrived (before forwarding). */
  onBatchResponse?(n: number, conn: RelayConnection): void;
}

/**
 * A transparent TCP relay on 127.0.0.1 to the back end's current port (`target`); with no target
 * (the back end is down) it drops new connections at once, as a refused connect would look to the
 * box. It parses nothing but the request line and content-length of batch requests.
 *
 * INVARIANTS: bytes are forwarded in order and unchanged unless a hook holds them; a held
 * direction is never released (its connection is dropped later); hooks run synchronously in the
 * data handler, so a kill they start happens before any later byte of that connection moves.
 */
export class BatchRelay {
  target: number | undefined;
  batchRequests = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly hooks: RelayHooks) {}

  async listen(): Promise<number> {
    const server = createServer((client) => this.onConnection(client));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const a = server.address();
    if (!a || typeof a !== 'object') throw new Error('BatchRelay.listen: no address');
    return a.port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private onConnection(client: Socket): void {
    this.sockets.add(client);
    client.once('close', () => this.sockets.delete(client));
    client.on('error', () => {});
    const port = this.target;
    if (port === undefined) {
      client.destroy();
      return;
    }
    const upstream = connect({ host: '127.0.0.1', port });
    this.sockets.add(upstream);
    upstream.once('close', () => {
      this.sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => {});
    client.once('close', () => upstream.destroy());
    let holdUp = false;
    let holdDown = false;
    const conn: RelayConnection = {
      holdResponses: () => {
        holdDown = true;
      },
      holdRequests: () => {
        holdUp = true;
      },
      drop: () => {
        client.destroy();
        upstream.destroy();
      },
    };
    // The batch request being relayed on this connection: its number and the bytes still to come.
    let current: { n: number; remaining: number } | undefined;
    let awaitingAnswer: number | undefined;
    client.on('data', (chunk: Buffer) => {
      if (holdUp) return;
      let send = chunk;
      if (!current && chunk.subarray(0, BATCH_REQUEST.length).toString('latin1') === BATCH_REQUEST) {
        const n = ++this.batchRequests;
        current = { n, remaining: requestLength(chunk) };
        const forward = this.hooks.onBatchRequest?.(n, conn, chunk);
        if (forward !== undefined && forward < chunk.length) {
          send = chunk.subarray(0, forward);
          holdUp = true;
        }
      }
      if (send.length > 0) upstream.write(send);
      if (current) {
        current.remaining -= send.length;
        if (current.remaining <= 0 && !holdUp) {
          const n = current.n;
          current = undefined;
          awaitingAnswer = n;
          this.hooks.onBatchRequestSent?.(n, conn);
        }
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      if (awaitingAnswer !== undefined) {
        const n = awaitingAnswer;
        awaitingAnswer = undefined;
        this.hooks.onBatchResponse?.(n, conn);
      }
      if (!holdDown) client.write(chunk);
    });
  }
}

/** Header bytes plus content-length of the request starting in `chunk` (Infinity when unknown). */
function requestLength(chunk: Buffer): number {
  const end = chunk.indexOf('\r\n\r\n');
  if (end < 0) return Number.POSITIVE_INFINITY;
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(chunk.subarray(0, end).toString('latin1'));
  return m ? end + 4 + Number(m[1]) : Number.POSITIVE_INFINITY;
}
