/**
 * POS link transports: a TCP listener (one line-JSON stream per connection) and a serial port.
 * Only open/start throws; a peer that misbehaves is answered or dropped, never fatal to the box.
 */
import { createServer, isIP, type Server, type Socket } from 'node:net';
import type { Log } from '../../../drivers/common/log.ts';
import { BoxError } from '../../core/errors.ts';
import type { PosLink } from './link.ts';

const MAX_CONNECTIONS = 4;

export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

export interface PosTransport {
  /** For TCP: the bound address (port 0 resolves to the real one). */
  address?: { host: string; port: number };
  close(): Promise<void>;
}

export async function startPosTcp(link: PosLink, opts: { host: string; port: number; log: Log }): Promise<PosTransport> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    if (sockets.size >= MAX_CONNECTIONS) {
      opts.log.warn({ event: 'pos.too-many-connections', remote: socket.remoteAddress }, 'POS connection refused');
      socket.end('{"type":"error","code":"BUSY","detail":"too many connections"}\n');
      return;
    }
    sockets.add(socket);
    socket.setNoDelay(true);
    const attached = link.attach({
      send: (line) => {
        if (!socket.destroyed) socket.write(line);
      },
    });
    opts.log.info({ event: 'pos.connected', remote: socket.remoteAddress }, 'POS connected');
    socket.on('data', (chunk: Buffer) => attached.push(chunk));
    socket.on('error', (e) => opts.log.warn({ event: 'pos.socket-error', err: e.message }, 'POS socket error'));
    socket.on('close', () => {
      attached.detach();
      sockets.delete(socket);
      opts.log.info({ event: 'pos.disconnected' }, 'POS disconnected');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new BoxError('POS_LISTEN_FAILED', `pos.listen: cannot listen on ${opts.host}:${opts.port} (${e.code ?? e.message})`, { cause: e })),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  server.on('error', (e) => opts.log.error({ event: 'pos.server-error', err: e.message }, 'POS server error'));
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : opts.port;
  opts.log.info({ event: 'pos.listening', host: opts.host, port }, 'POS link listening');
  return {
    address: { host: opts.host, port },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Minimal slice of a serialport instance. */
interface SerialLike {
  on(event: 'data', cb: (chunk: Buffer) => void): unknown;
  on(event: 'error', cb: (e: Error) => void): unknown;
  write(data: string): unknown;
  close(cb?: (e: Error | null) => void): void;
  readonly isOpen: boolean;
}

export async function startPosSerial(
  link: PosLink,
  opts: { path: string; baudRate: number; log: Log; openPort?: (path: string, baudRate: number) => Promise<SerialLike> },
): Promise<PosTransport> {
  const openPort =
    opts.openPort ??
    (async (path: string, baudRate: number): Promise<SerialLike> => {
      let SerialPort: typeof import('serialport').SerialPort;
      try {
        ({ SerialPort } = await import('serialport'));
      } catch (e) {
        throw new BoxError('POS_SERIAL_MISSING', `pos.open: cannot load serialport (${e instanceof Error ? e.message : String(e)}); run \`npm rebuild @serialport/bindings-cpp\``);
      }
      return new Promise<SerialLike>((resolve, reject) => {
        const port = new SerialPort({ path, baudRate, autoOpen: false });
        port.open((e) => (e ? reject(new BoxError('POS_SERIAL_OPEN', `pos.open: ${path}: ${e.message}`, { cause: e })) : resolve(port)));
      });
    });
  const port = await openPort(opts.path, opts.baudRate);
  const attached = link.attach({ send: (line) => port.write(line) });
  port.on('data', (chunk) => attached.push(chunk));
  port.on('error', (e) => opts.log.warn({ event: 'pos.serial-error', err: e.message }, 'POS serial error'));
  opts.log.info({ event: 'pos.listening', path: opts.path, baudRate: opts.baudRate }, 'POS link on serial port');
  return {
    close: () =>
      new Promise<void>((resolve) => {
        attached.detach();
        if (!port.isOpen) return resolve();
        port.close(() => resolve());
      }),
  };
}
