/**
 * Server side of the control socket (protocol.ts), run inside the box. It only answers: every
 * request is handled by the injected `handle`, and a failing handler becomes an error response,
 * never a crash of the box.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Log } from '../../../drivers/common/log.ts';
import { BoxError, isBoxError } from '../../core/errors.ts';
import { type ControlRequest, ControlRequestSchema, type ControlResponse, MAX_REQUEST_BYTES } from './protocol.ts';

export interface ControlServerOptions {
  path: string;
  handle: (request: ControlRequest) => Promise<unknown> | unknown;
  log: Log;
  /** Socket file mode; default 0660 (owner and group: the technician's sudo or the qrpay group). */
  mode?: number;
}

export interface ControlServer {
  readonly path: string;
  close(): Promise<void>;
}

function isListening(path: string): Promise<boolean> {
  return new Promise((res) => {
    const s = createConnection({ path });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

/**
 * Listens on `path`. A stale socket file from a crashed run is removed; a socket another live box
 * answers on is not (BoxError CONTROL_IN_USE), and a non-socket file there is refused (CONTROL_PATH).
 */
export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const { path, log } = options;
  mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
  if (existsSync(path)) {
    if (!lstatSync(path).isSocket()) throw new BoxError('CONTROL_PATH', `control.listen: ${path} exists and is not a socket`);
    if (await isListening(path)) throw new BoxError('CONTROL_IN_USE', `control.listen: another box already answers on ${path}`);
    unlinkSync(path);
  }
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.setEncoding('utf8');
    let buf = '';
    // INVARIANT: requests on one connection are answered in order; `chain` serialises them.
    let chain: Promise<void> = Promise.resolve();
    socket.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_REQUEST_BYTES && !buf.includes('\n')) {
        log.warn({ event: 'control.oversize', bytes: buf.length }, 'control: request line too long, hanging up');
        socket.destroy();
        return;
      }
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === '') continue;
        chain = chain.then(async () => {
          const res = await answer(line, options.handle, log);
          if (!socket.destroyed) socket.write(`${JSON.stringify(res)}\n`);
        });
      }
    });
  });
  await new Promise<void>((res, rej) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      rej(new BoxError('CONTROL_LISTEN', `control.listen: cannot listen on ${path}: ${e.code ?? e.message}`, { cause: e })),
    );
    server.listen(path, () => res());
  });
  chmodSync(path, options.mode ?? 0o660);
  server.on('error', (e) => log.error({ event: 'control.error', err: e.message }, 'control socket error'));
  log.info({ event: 'control.listening', path }, 'control socket listening');
  return {
    path,
    close: () =>
      new Promise<void>((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          try {
            unlinkSync(path);
          } catch {
            // already gone (server.close unlinks on some platforms)
          }
          res();
        });
      }),
  };
}

async function answer(line: string, handle: ControlServerOptions['handle'], log: Log): Promise<ControlResponse> {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { ok: false, error: { code: 'CONTROL_BAD_REQUEST', message: 'control: request is not JSON' } };
  }
  const parsed = ControlRequestSchema.safeParse(raw);
  if (!parsed.success) {
    const cmd = (raw as { cmd?: unknown } | null)?.cmd;
    return { ok: false, error: { code: 'CONTROL_BAD_REQUEST', message: `control: unknown or malformed request ${JSON.stringify(cmd ?? null).slice(0, 40)}` } };
  }
  try {
    return { ok: true, result: await handle(parsed.data) };
  } catch (e) {
    const code = isBoxError(e) ? e.code : 'CONTROL_HANDLER_FAILED';
    const message = e instanceof Error ? e.message : String(e);
    log.error({ event: 'control.handler-failed', cmd: parsed.data.cmd, code, err: message }, 'control request failed');
    return { ok: false, error: { code, message } };
  }
}
