/**
 * Client side of the control socket, for `scanner status` and `scanner selftest`.
 */
import { createConnection } from 'node:net';
import { BoxError } from '../../core/errors.ts';
import type { ControlRequest, ControlResponse } from './protocol.ts';

export interface ControlClientOptions {
  /** Whole request timeout (connect + answer). Default 10 s; a self-test takes a few seconds. */
  timeoutMs?: number;
}

const NOT_RUNNING = new Set(['ENOENT', 'ECONNREFUSED']);

/**
 * Sends one request and resolves with the response's result. Rejects with BoxError
 * CONTROL_NOT_RUNNING (no socket or nobody listening: the service is stopped), CONTROL_DENIED
 * (EACCES: not in the service's group), CONTROL_TIMEOUT, CONTROL_PROTOCOL, or the server's own code.
 */
export function controlRequest(socketPath: string, request: ControlRequest, options: ControlClientOptions = {}): Promise<unknown> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolvePromise, reject) => {
    let buf = '';
    let settled = false;
    const socket = createConnection({ path: socketPath });
    const finish = (err: BoxError | undefined, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolvePromise(value);
    };
    const timer = setTimeout(
      () => finish(new BoxError('CONTROL_TIMEOUT', `control.request: no answer to ${request.cmd} from ${socketPath} within ${timeoutMs} ms`, { retryable: true })),
      timeoutMs,
    );
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let res: ControlResponse;
      try {
        res = JSON.parse(buf.slice(0, nl)) as ControlResponse;
      } catch {
        return finish(new BoxError('CONTROL_PROTOCOL', `control.request: the answer from ${socketPath} is not JSON`));
      }
      // `null` or a bare value would throw on `res.ok` inside this socket callback (an uncaught exception).
      if (typeof res !== 'object' || res === null) return finish(new BoxError('CONTROL_PROTOCOL', `control.request: the answer from ${socketPath} is not an object`));
      if (res.ok) finish(undefined, res.result);
      else finish(new BoxError(res.error?.code ?? 'CONTROL_PROTOCOL', res.error?.message ?? 'control.request: error without message'));
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      const code = e.code ?? '';
      if (NOT_RUNNING.has(code)) {
        finish(new BoxError('CONTROL_NOT_RUNNING', `control.request: the box service is not running (nothing listens on ${socketPath}: ${code})`));
      } else if (code === 'EACCES' || code === 'EPERM') {
        finish(new BoxError('CONTROL_DENIED', `control.request: no permission for ${socketPath} (${code}); run as root or as a member of the qrpay group`));
      } else {
        finish(new BoxError('CONTROL_IO', `control.request: ${socketPath}: ${code || e.message}`, { retryable: true }));
      }
    });
    socket.once('close', () => finish(new BoxError('CONTROL_PROTOCOL', `control.request: ${socketPath} hung up without answering ${request.cmd}`)));
  });
}
