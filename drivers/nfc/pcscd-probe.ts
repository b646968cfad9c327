/**
 * Is pcscd reachable? Connects to its unix STREAM socket and hangs up. This is the guard against the
 * pcscd hazard: nfc-pcsc's `new NFC()` loops in SCardEstablishContext on the MAIN thread while pcscd is
 * absent, so we never construct it before this probe says yes.
 */
import { createConnection } from 'node:net';

/** Where libpcsclite connects (it honours PCSCLITE_CSOCK_NAME, so we do too). */
export function defaultPcscdSocketPath(env: Record<string, string | undefined> = process.env): string {
  return env['PCSCLITE_CSOCK_NAME'] || '/run/pcscd/pcscd.comm';
}

export type PcscdProbeResult = { reachable: true } | { reachable: false; reason: string };
export type PcscdProbe = (socketPath: string, timeoutMs: number) => Promise<PcscdProbeResult>;

/** Never rejects; resolves within ~timeoutMs whatever the socket does. */
export const probePcscdSocket: PcscdProbe = (socketPath, timeoutMs) =>
  new Promise<PcscdProbeResult>((resolve) => {
    let settled = false;
    let socket: ReturnType<typeof createConnection> | undefined;
    const finish = (r: PcscdProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ reachable: false, reason: 'ETIMEDOUT' }), timeoutMs);
    try {
      socket = createConnection({ path: socketPath });
      socket.once('connect', () => finish({ reachable: true }));
      socket.once('error', (e: NodeJS.ErrnoException) => finish({ reachable: false, reason: e.code ?? e.message }));
    } catch (e) {
      finish({ reachable: false, reason: e instanceof Error ? e.message : String(e) });
    }
  });
