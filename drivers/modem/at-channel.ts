/**
 * An AT command channel on the modem's own AT port (a udev symlink such as /dev/lte-at, kept away
 * from ModemManager with ID_MM_PORT_IGNORE). It owns the serial port, runs one command at a time
 * with a timeout, collects the answer until OK / ERROR / +CME ERROR / +CMS ERROR, and reopens the
 * port with exponential backoff when it is lost (a modem reset renumbers ttyUSB*). Only open() throws.
 */
import { BoxError } from '../../device/core/errors.ts';
import { type Log, silentLog } from '../common/log.ts';
import { parseFinal } from './at-parser.ts';

export type AtFailure = 'TIMEOUT' | 'ERROR' | 'CME_ERROR' | 'CMS_ERROR' | 'PORT_DOWN' | 'CLOSED';

/** The answer to one command: intermediate lines (echo and blank lines removed) and the outcome. */
export type AtResult = { ok: true; lines: string[] } | { ok: false; code: AtFailure; lines: string[]; detail?: string };

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Looks timers up at call time, so vitest fake timers apply. */
export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface AtChannelOptions {
  /** AT port path, e.g. /dev/lte-at. */
  path: string;
  /** Default 115200 (USB modems ignore it; UART modules do not). */
  baudRate?: number;
  /**
   * A serialport BindingInterface; default is the native one. Tests pass @serialport/binding-mock.
   * Typed structurally: @serialport/bindings-interface ships no types that NodeNext resolves.
   */
  binding?: { open(options: object): Promise<unknown>; list(): Promise<unknown[]> };
  /** Per-command timeout, default 5000 ms. */
  commandTimeoutMs?: number;
  /** Reopen backoff after the port is lost: initialMs * 2^n, capped at maxMs. Default 1 s .. 30 s. */
  reconnect?: { initialMs?: number; maxMs?: number };
  /** Commands sent after every (re)open. Default ['ATE1']: echo on, so answers can be framed. */
  initCommands?: string[];
  log?: Log;
  timers?: Timers;
}

/** The part of serialport's stream this channel uses. */
interface PortLike {
  open(cb: (err: Error | null) => void): void;
  close(cb?: (err: Error | null) => void): void;
  write(data: string, cb?: (err: Error | null | undefined) => void): boolean;
  on(event: 'data', fn: (chunk: Buffer) => void): unknown;
  on(event: 'close', fn: (err?: Error | null) => void): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
  removeAllListeners(): unknown;
  readonly isOpen: boolean;
}

interface Pending {
  cmd: string;
  timeoutMs: number;
  resolve(r: AtResult): void;
}

const MAX_LINE = 4096;

export class AtChannel {
  readonly stats = { stray: 0, stale: 0, timeouts: 0, reconnects: 0, overlong: 0 };
  private readonly log: Log;
  private readonly timers: Timers;
  private port: PortLike | undefined;
  private wanted = false; // open() succeeded and close() not yet called
  private attempt = 0;
  private reconnectTimer: unknown;
  private rx = '';

  /*
   * Command queue. INVARIANTS:
   * - At most one command is in flight (`current`); the next one is written only after the current
   *   one has settled by a final result code, its timeout, port loss or close().
   * - Every queued or in-flight command settles exactly once; command() never rejects.
   * - While the port is down, the queue is empty and command() answers PORT_DOWN at once.
   * - After a timeout `resync` is set: a late answer to the timed-out command may still arrive, so
   *   the next command ignores every line until its own echo. `resync` clears when a command settles
   *   by a final result code, or times out after it dropped a final result code (the late answer
   *   has then been consumed). So a modem with echo off costs one extra timeout, not a stuck channel.
   */
  private readonly queue: Pending[] = [];
  private current: (Pending & { lines: string[]; echoed: boolean; droppedFinal: boolean; timer: unknown }) | undefined;
  private resync = false;

  constructor(private readonly opts: AtChannelOptions) {
    this.log = (opts.log ?? silentLog).child({ driver: 'modem-at', path: opts.path });
    this.timers = opts.timers ?? realTimers;
  }

  get connected(): boolean {
    return this.port?.isOpen === true;
  }

  /** Opens the port and runs the init commands. Throws BoxError MODEM_OPEN_FAILED / MODEM_DRIVER_MISSING. */
  async open(): Promise<void> {
    const { path, baudRate = 115200 } = this.opts;
    if (typeof path !== 'string' || path === '') {
      throw new BoxError('MODEM_CONFIG', `at-modem.open: expected path string, got ${JSON.stringify(path)}`);
    }
    if (!Number.isInteger(baudRate) || baudRate <= 0) {
      throw new BoxError('MODEM_CONFIG', `at-modem.open: expected baudRate integer, got ${JSON.stringify(baudRate)}`);
    }
    if (this.wanted) return;
    try {
      await this.openPort();
    } catch (e) {
      if (e instanceof BoxError) throw e;
      throw new BoxError('MODEM_OPEN_FAILED', `at-modem.open: cannot open ${path}: ${(e as Error).message}`, {
        retryable: true,
        cause: e,
      });
    }
    this.wanted = true;
    await this.runInit();
  }

  async close(): Promise<void> {
    this.wanted = false;
    if (this.reconnectTimer !== undefined) this.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.failAll('CLOSED');
    const port = this.port;
    this.port = undefined;
    if (port === undefined) return;
    port.removeAllListeners();
    port.on('error', () => {}); // a late stream error after close must not crash the process
    if (port.isOpen) await new Promise<void>((res) => port.close(() => res()));
  }

  /** Queue one command (without CR). Never rejects. */
  command(cmd: string, timeoutMs = this.opts.commandTimeoutMs ?? 5000): Promise<AtResult> {
    if (!this.wanted) return Promise.resolve({ ok: false, code: 'CLOSED', lines: [] });
    if (!this.connected) return Promise.resolve({ ok: false, code: 'PORT_DOWN', lines: [] });
    return new Promise((resolve) => {
      this.queue.push({ cmd, timeoutMs, resolve });
      this.pump();
    });
  }

  private async loadPort(): Promise<PortLike> {
    let mod: typeof import('serialport');
    try {
      mod = await import('serialport');
    } catch (e) {
      throw new BoxError(
        'MODEM_DRIVER_MISSING',
        'at-modem.open: cannot load npm package "serialport" (npm i serialport; building @serialport/bindings-cpp needs build-essential)',
        { cause: e },
      );
    }
    const { path, baudRate = 115200, binding } = this.opts;
    // SerialPort spreads its options over the detected binding, so an injected binding wins.
    const options = { path, baudRate, autoOpen: false, ...(binding ? { binding } : {}) };
    return new mod.SerialPort(options as ConstructorParameters<typeof mod.SerialPort>[0]) as unknown as PortLike;
  }

  private async openPort(): Promise<void> {
    const port = await this.loadPort();
    await new Promise<void>((res, rej) => port.open((err) => (err ? rej(err) : res())));
    this.rx = '';
    port.on('data', (chunk) => this.onData(chunk));
    port.on('error', (err) => this.log.warn({ err: err.message }, 'at-modem: port error'));
    port.on('close', (err) => {
      if (this.port === port) this.onPortLost(err ?? undefined);
    });
    this.port = port;
  }

  private async runInit(): Promise<void> {
    for (const cmd of this.opts.initCommands ?? ['ATE1']) {
      const r = await this.command(cmd);
      if (!r.ok) this.log.warn({ cmd, code: r.code }, 'at-modem: init command failed');
    }
  }

  private onPortLost(err: Error | undefined): void {
    this.log.warn({ err: err?.message }, 'at-modem: port lost');
    this.port?.removeAllListeners();
    this.port = undefined;
    this.failAll('PORT_DOWN');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (!this.wanted || this.reconnectTimer !== undefined) return;
    const { initialMs = 1000, maxMs = 30_000 } = this.opts.reconnect ?? {};
    const delay = Math.min(maxMs, initialMs * 2 ** this.attempt);
    this.attempt++;
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.reconnect();
    }, delay);
  }

  private async reconnect(): Promise<void> {
    if (!this.wanted) return;
    try {
      await this.openPort();
    } catch (e) {
      this.log.debug({ err: (e as Error).message, attempt: this.attempt }, 'at-modem: reopen failed');
      this.scheduleReconnect();
      return;
    }
    if (!this.wanted) {
      await this.close();
      return;
    }
    this.attempt = 0;
    this.stats.reconnects++;
    this.log.info({}, 'at-modem: port reopened');
    await this.runInit();
  }

  private failAll(code: 'PORT_DOWN' | 'CLOSED'): void {
    const cur = this.current;
    this.current = undefined;
    if (cur !== undefined) {
      this.timers.clearTimeout(cur.timer);
      cur.resolve({ ok: false, code, lines: cur.lines });
    }
    for (const p of this.queue.splice(0)) p.resolve({ ok: false, code, lines: [] });
  }

  private pump(): void {
    if (this.current !== undefined) return;
    const next = this.queue.shift();
    if (next === undefined) return;
    const port = this.port;
    if (port === undefined || !port.isOpen) {
      next.resolve({ ok: false, code: 'PORT_DOWN', lines: [] });
      this.pump();
      return;
    }
    const timer = this.timers.setTimeout(() => this.onTimeout(), next.timeoutMs);
    this.current = { ...next, lines: [], echoed: false, droppedFinal: false, timer };
    port.write(`${next.cmd}\r`, (err) => {
      if (err) this.log.warn({ cmd: next.cmd, err: err.message }, 'at-modem: write failed');
    });
  }

  private onTimeout(): void {
    const cur = this.current;
    if (cur === undefined) return;
    this.current = undefined;
    this.stats.timeouts++;
    this.resync = !cur.droppedFinal; // silent modem: its answer may still come; else it was consumed
    this.log.warn({ cmd: cur.cmd, timeoutMs: cur.timeoutMs }, 'at-modem: command timed out');
    cur.resolve({ ok: false, code: 'TIMEOUT', lines: cur.lines });
    this.pump();
  }

  private settle(r: AtResult): void {
    const cur = this.current;
    if (cur === undefined) return;
    this.current = undefined;
    this.resync = false;
    this.timers.clearTimeout(cur.timer);
    cur.resolve(r);
    this.pump();
  }

  private onData(chunk: Buffer): void {
    this.rx += chunk.toString('latin1');
    const parts = this.rx.split(/\r\n|\r|\n/);
    this.rx = parts.pop() ?? '';
    if (this.rx.length > MAX_LINE) {
      this.stats.overlong++;
      this.rx = '';
    }
    for (const raw of parts) {
      const line = raw.trim();
      if (line !== '') this.onLine(line);
    }
  }

  private onLine(line: string): void {
    const cur = this.current;
    if (cur === undefined) {
      this.stats.stray++; // URC (RDY, +CEREG: 1, ...) or a late answer after a timeout
      this.log.debug({ line: line.slice(0, 40) }, 'at-modem: unsolicited line dropped');
      return;
    }
    if (line.toUpperCase() === cur.cmd.toUpperCase()) {
      // Our own echo: whatever came before it belonged to an earlier command.
      if (cur.lines.length > 0) this.stats.stale += cur.lines.length;
      cur.lines = [];
      cur.echoed = true;
      return;
    }
    const fin = parseFinal(line);
    if (this.resync && !cur.echoed) {
      this.stats.stale++;
      if (fin !== undefined) cur.droppedFinal = true;
      return;
    }
    if (fin === undefined) {
      cur.lines.push(line);
      return;
    }
    if (fin.ok) this.settle({ ok: true, lines: cur.lines });
    else this.settle({ ok: false, code: fin.code, lines: cur.lines, ...(fin.detail ? { detail: fin.detail } : {}) });
  }
}
