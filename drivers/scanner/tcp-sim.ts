import { createServer, type Server, type Socket } from 'node:net';
import { BoxError, describeValue } from '../../device/core/errors.ts';
import { type Log, rateLimited, silentLog } from '../common/log.ts';
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

export interface TcpSimConfig {
  /** Default 127.0.0.1. Keep it on loopback: anyone who can connect can "scan". */
  host?: string;
  /** Default 7410; 0 picks a free port (see `port` after open()). */
  port?: number;
  /** Default '\n'. */
  delimiter?: LineDelimiter;
  maxLineBytes?: number;
}

export interface TcpSimDeps {
  log?: Log;
  nowNs?: () => bigint;
  nowMs?: () => number;
}

export const DEFAULT_TCP_SIM_PORT = 7410;

/**
 * The simulated scanner of the embedded default: a TCP server where every line a client
 * writes (e.g. `echo CODE | nc 127.0.0.1 7410`) is delivered as a scan, with the same bound
 * and validation as the serial driver. Each client connection has its own line state.
 */
export class TcpSimScanner implements Scanner {
  readonly #config: TcpSimConfig;
  readonly #deps: TcpSimDeps;
  readonly #log: Log;
  readonly #events: ScannerEvents;
  readonly #logDrop: ReturnType<typeof rateLimited>;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #port = 0;

  constructor(config: TcpSimConfig = {}, deps: TcpSimDeps = {}) {
    this.#config = config;
    this.#deps = deps;
    this.#log = (deps.log ?? silentLog).child({ driver: 'scanner.tcp-sim' });
    this.#events = new ScannerEvents(this.#log);
    this.#logDrop = rateLimited(this.#log, 10_000, 3, deps.nowMs);
  }

  /** The bound TCP port (useful with port 0). */
  get port(): number {
    return this.#port;
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
    const host = this.#config.host ?? '127.0.0.1';
    const port = this.#config.port ?? DEFAULT_TCP_SIM_PORT;
    const delimiter = this.#config.delimiter ?? '\n';
    const maxLineBytes = this.#config.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    if (typeof host !== 'string' || host.length === 0) throw configError('host', 'non-empty string', host);
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
      throw configError('port', 'number 0..65535', port);
    }
    if (!(LINE_DELIMITERS as readonly unknown[]).includes(delimiter)) throw configError('delimiter', 'line delimiter', delimiter);
    if (typeof maxLineBytes !== 'number' || !Number.isInteger(maxLineBytes) || maxLineBytes < 1) {
      throw configError('maxLineBytes', 'positive integer', maxLineBytes);
    }
    if (this.#server) throw new BoxError('SCANNER_STATE', `scanner.open: tcp sim already listening on ${this.#port}`);
    const server = createServer((socket) => this.#accept(socket, delimiter, maxLineBytes));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      throw new BoxError('SCANNER_UNAVAILABLE', `scanner.open: cannot listen on ${host}:${port}: ${errorMessage(e)}`, {
        retryable: true,
        cause: e,
      });
    }
    server.on('error', (e) => this.#log.error({ err: errorMessage(e) }, 'scanner: tcp sim server error'));
    this.#server = server;
    const addr = server.address();
    this.#port = typeof addr === 'object' && addr !== null ? addr.port : port;
    this.#log.info({ host, port: this.#port }, 'scanner: tcp sim listening');
    this.#events.emitStatus({ state: 'connected', attempt: 0, detail: `tcp://${host}:${this.#port}` });
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.#events.status.state !== 'disconnected') this.#events.emitStatus({ state: 'disconnected', attempt: 0 });
  }

  #accept(socket: Socket, delimiter: LineDelimiter, maxLineBytes: number): void {
    this.#sockets.add(socket);
    const reader = new LineReader({
      delimiter,
      maxLineBytes,
      ...(this.#deps.nowNs ? { nowNs: this.#deps.nowNs } : {}),
      onLine: (line, meta) => this.#events.emitLine(line, meta),
      onDrop: (reason, bytes) => {
        if (reason === 'overflow') this.#events.counters.droppedOverflow++;
        else this.#events.counters.droppedInvalid++;
        this.#logDrop('warn', { reason, bytes }, 'scanner: dropped line');
      },
    });
    socket.on('data', (chunk: Buffer) => reader.write(chunk));
    socket.on('error', (e) => this.#log.debug({ err: errorMessage(e) }, 'scanner: tcp sim client error'));
    socket.on('close', () => this.#sockets.delete(socket));
  }
}

function configError(key: string, expected: string, got: unknown): BoxError {
  return new BoxError('SCANNER_CONFIG', `scanner.open: expected ${key} ${expected}, got ${describeValue(got)}`);
}
