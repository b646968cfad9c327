import { realpath, stat } from 'node:fs/promises';
// Types only (serialport's own dependency); @serialport/bindings-interface's ESM entry has no typings.
import type { BindingInterface } from '@serialport/bindings-cpp';
import type { SerialPort } from 'serialport';
import { BoxError, describeValue } from '../../device/core/errors.ts';
import { type Log, rateLimited, silentLog } from '../common/log.ts';
import { type BackoffPolicy, backoffDelayMs, DEFAULT_BACKOFF, realTimers, type Timers } from './backoff.ts';
import { LineReader } from './line-reader.ts';
import { errorMessage, ScannerEvents } from './scanner-events.ts';
import {
  DEFAULT_MAX_LINE_BYTES,
  LINE_DELIMITERS,
  type LineDelimiter,
  type LineListener,
  type Scanner,
  type ScannerStats,
  type StatusListener,
} from './types.ts';

/** Config of a line-mode serial scanner (any module that sends one code per terminated line). */
export interface SerialLineConfig {
  /** Device path, e.g. a udev symlink /dev/qrscanner; re-resolved on every (re)connect. */
  path: string;
  /** Default 9600 (GM65 factory default). */
  baudRate?: number;
  /** Default '\r' (GM65 CR terminator). */
  delimiter?: LineDelimiter;
  /** Longest accepted line in bytes, delimiter excluded. Default 4096. */
  maxLineBytes?: number;
}

export interface SerialLineDeps {
  /** serialport binding; defaults to @serialport/bindings-cpp, loaded lazily on open(). */
  binding?: BindingInterface;
  log?: Log;
  timers?: Timers;
  /** Jitter source in [0, 1); default Math.random. */
  random?: () => number;
  nowNs?: () => bigint;
  /** Wall-clock ms for the rate-limited logger; default Date.now. */
  nowMs?: () => number;
  /** Resolves a symlink to the current tty; default fs.realpath, falling back to the path itself. */
  resolvePath?: (path: string) => Promise<string>;
  backoff?: BackoffPolicy;
  /**
   * Period of the presence check, ms; 0 disables it. Default 1000 with the native binding, 0 when
   * a `binding` is injected (mock device paths are not files). On Linux a vanished device
   * does not always fail the pending read (node-serialport#1465, #2043; seen here with ptys),
   * so the driver also re-resolves the path and checks the device node is still there.
   */
  presenceCheckMs?: number;
  /** Whether a resolved device path still exists; default fs.stat. */
  deviceExists?: (path: string) => Promise<boolean>;
}

interface ValidConfig {
  path: string;
  baudRate: number;
  delimiter: LineDelimiter;
  maxLineBytes: number;
}

const MAX_LINE_LIMIT = 1 << 20;

/** Validates a config that may come from a file. Throws BoxError naming the key and bad value. */
export function validateSerialLineConfig(cfg: unknown): ValidConfig {
  const bad = (key: string, expected: string, got: unknown) =>
    new BoxError('SCANNER_CONFIG', `scanner.open: expected ${key} ${expected}, got ${describeValue(got)}`);
  if (typeof cfg !== 'object' || cfg === null) throw bad('config', 'object', cfg);
  const c = cfg as Record<string, unknown>;
  if (typeof c['path'] !== 'string' || c['path'].length === 0) throw bad('path', 'non-empty string', c['path']);
  const baudRate = c['baudRate'] ?? 9600;
  if (typeof baudRate !== 'number' || !Number.isInteger(baudRate) || baudRate <= 0) {
    throw bad('baudRate', 'number', baudRate);
  }
  const delimiter = c['delimiter'] ?? '\r';
  if (!(LINE_DELIMITERS as readonly unknown[]).includes(delimiter)) {
    throw bad('delimiter', "one of '\\r' '\\n' '\\r\\n' '\\t'", delimiter);
  }
  const maxLineBytes = c['maxLineBytes'] ?? DEFAULT_MAX_LINE_BYTES;
  if (typeof maxLineBytes !== 'number' || !Number.isInteger(maxLineBytes) || maxLineBytes < 1 || maxLineBytes > MAX_LINE_LIMIT) {
    throw bad('maxLineBytes', `integer 1..${MAX_LINE_LIMIT}`, maxLineBytes);
  }
  return { path: c['path'], baudRate, delimiter: delimiter as LineDelimiter, maxLineBytes };
}

async function defaultDeviceExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function defaultResolvePath(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return path; // absent now: let the binding's open fail and the backoff retry
  }
}

/**
 * Line-mode serial scanner: serialport stream -> LineReader (bounded guard + readline).
 * open() throws only on bad config or when the first open fails. Afterwards a lost port
 * (USB unplug, read error, EOF) is reported as status `reconnecting` and reopened with
 * exponential backoff and jitter, re-resolving the path each time.
 */
export class SerialLineScanner implements Scanner {
  readonly #rawConfig: unknown;
  readonly #deps: SerialLineDeps;
  readonly #log: Log;
  readonly #timers: Timers;
  readonly #events: ScannerEvents;
  readonly #logDrop: ReturnType<typeof rateLimited>;
  #cfg: ValidConfig | undefined;
  #binding: BindingInterface | undefined;
  #reader: LineReader | undefined;
  #port: SerialPort | undefined;
  /** Bumped whenever the current port is abandoned; stale port events compare against it. */
  #generation = 0;
  #wanted = false;
  /** Bumped by every open(); a connect attempt left over from an earlier session is discarded. */
  #session = 0;
  #attempt = 0;
  #retryTimer: unknown;
  #presenceTimer: unknown;

  constructor(config: SerialLineConfig, deps: SerialLineDeps = {}) {
    this.#rawConfig = config;
    this.#deps = deps;
    this.#log = (deps.log ?? silentLog).child({ driver: 'scanner.serial' });
    this.#timers = deps.timers ?? realTimers;
    this.#events = new ScannerEvents(this.#log);
    this.#logDrop = rateLimited(this.#log, 10_000, 3, deps.nowMs);
  }

  onLine(cb: LineListener): () => void {
    return this.#events.onLine(cb);
  }

  onStatus(cb: StatusListener): () => void {
    return this.#events.onStatus(cb);
  }

  stats(): ScannerStats {
    return this.#events.stats();
  }

  async open(): Promise<void> {
    const cfg = validateSerialLineConfig(this.#rawConfig);
    if (this.#wanted) throw new BoxError('SCANNER_STATE', `scanner.open: ${cfg.path} is already open`);
    this.#cfg = cfg;
    this.#session++;
    this.#binding = this.#deps.binding ?? (await loadNativeBinding());
    this.#reader = new LineReader({
      delimiter: cfg.delimiter,
      maxLineBytes: cfg.maxLineBytes,
      ...(this.#deps.nowNs ? { nowNs: this.#deps.nowNs } : {}),
      onLine: (line, meta) => this.#events.emitLine(line, meta),
      onDrop: (reason, bytes) => {
        if (reason === 'overflow') this.#events.counters.droppedOverflow++;
        else this.#events.counters.droppedInvalid++;
        this.#logDrop('warn', { reason, bytes, maxLineBytes: cfg.maxLineBytes }, 'scanner: dropped line');
      },
    });
    this.#wanted = true;
    try {
      await this.#connect(false);
    } catch (e) {
      this.#wanted = false;
      throw new BoxError('SCANNER_UNAVAILABLE', `scanner.open: cannot open ${cfg.path}: ${errorMessage(e)}`, {
        retryable: true,
        cause: e,
      });
    }
  }

  async close(): Promise<void> {
    this.#wanted = false;
    this.#generation++;
    if (this.#retryTimer !== undefined) this.#timers.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (this.#presenceTimer !== undefined) this.#timers.clearTimeout(this.#presenceTimer);
    this.#presenceTimer = undefined;
    this.#attempt = 0;
    const port = this.#port;
    this.#port = undefined;
    if (port) await closeQuietly(port);
    if (this.#events.status.state !== 'disconnected') this.#events.emitStatus({ state: 'disconnected', attempt: 0 });
  }

  async #connect(isReconnect: boolean): Promise<void> {
    const cfg = this.#cfg!;
    const session = this.#session;
    const target = await (this.#deps.resolvePath ?? defaultResolvePath)(cfg.path);
    const { SerialPort } = await import('serialport');
    // SerialPort spreads these options over its auto-detected binding, so `binding` overrides it.
    const options: ConstructorParameters<typeof SerialPort>[0] & { binding: BindingInterface } = {
      path: target,
      baudRate: cfg.baudRate,
      autoOpen: false,
      binding: this.#binding!,
    };
    const port = new SerialPort(options);
    port.on('error', () => {}); // errors are handled through open callback / close events
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    if (!this.#wanted || session !== this.#session) {
      await closeQuietly(port);
      return;
    }
    const gen = ++this.#generation;
    this.#port = port;
    this.#reader!.reset();
    port.on('data', (chunk: Buffer) => {
      if (gen === this.#generation) this.#reader!.write(chunk);
    });
    port.on('close', (err: Error | null) => this.#lost(gen, err ? err.message : 'port closed'));
    port.on('end', () => this.#lost(gen, 'end of stream'));
    port.on('error', (err: Error) => this.#lost(gen, err.message));
    this.#schedulePresenceCheck(gen, target);
    if (isReconnect) this.#events.counters.reconnects++;
    this.#attempt = 0;
    this.#log.info({ path: cfg.path, target, baudRate: cfg.baudRate }, 'scanner: connected');
    this.#events.emitStatus({ state: 'connected', attempt: 0, detail: target });
  }

  #schedulePresenceCheck(gen: number, target: string): void {
    const period = this.#deps.presenceCheckMs ?? (this.#deps.binding ? 0 : 1000);
    if (period <= 0) return;
    this.#presenceTimer = this.#timers.setTimeout(() => {
      this.#presenceTimer = undefined;
      void this.#checkPresence(gen, target);
    }, period);
  }

  async #checkPresence(gen: number, target: string): Promise<void> {
    if (gen !== this.#generation) return;
    const now = await (this.#deps.resolvePath ?? defaultResolvePath)(this.#cfg!.path);
    const exists = now === target && (await (this.#deps.deviceExists ?? defaultDeviceExists)(target));
    if (gen !== this.#generation) return;
    if (exists) this.#schedulePresenceCheck(gen, target);
    else this.#lost(gen, now === target ? `${target} vanished` : `${this.#cfg!.path} now points to ${now}`);
  }

  #lost(gen: number, why: string): void {
    if (gen !== this.#generation || !this.#wanted) return;
    this.#generation++;
    if (this.#presenceTimer !== undefined) this.#timers.clearTimeout(this.#presenceTimer);
    this.#presenceTimer = undefined;
    const port = this.#port;
    this.#port = undefined;
    if (port) void closeQuietly(port);
    this.#log.warn({ path: this.#cfg?.path, why }, 'scanner: port lost');
    this.#scheduleReconnect(why);
  }

  #scheduleReconnect(why: string): void {
    this.#attempt++;
    const delay = backoffDelayMs(this.#attempt, this.#deps.backoff ?? DEFAULT_BACKOFF, this.#deps.random ?? Math.random);
    this.#events.emitStatus({ state: 'reconnecting', attempt: this.#attempt, detail: why });
    this.#retryTimer = this.#timers.setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#retry();
    }, delay);
  }

  async #retry(): Promise<void> {
    if (!this.#wanted) return;
    const session = this.#session;
    try {
      await this.#connect(true);
    } catch (e) {
      if (this.#wanted && session === this.#session) this.#scheduleReconnect(errorMessage(e));
    }
  }
}

async function closeQuietly(port: SerialPort): Promise<void> {
  port.removeAllListeners('data');
  if (!port.isOpen) return;
  await new Promise<void>((resolve) => port.close(() => resolve()));
}

async function loadNativeBinding(): Promise<BindingInterface> {
  try {
    const { SerialPort } = await import('serialport');
    return SerialPort.binding;
  } catch (e) {
    throw new BoxError(
      'SCANNER_UNAVAILABLE',
      `scanner.open: cannot load the serialport native binding (${errorMessage(e)}); run \`npm rebuild @serialport/bindings-cpp\``,
      { cause: e },
    );
  }
}
