/**
 * Plain reachability: can the box open a TCP connection to (or GET a health URL of) the back end
 * within a timeout? Used alone on boxes with Ethernet/Wi-Fi, and by the AT modem driver because
 * registration on the network does not prove a working data bearer.
 */
import { connect as netConnect } from 'node:net';
import type { Connectivity, LinkState } from './types.ts';
import { LinkDownCode } from './types.ts';

export interface ProbeResult {
  ok: boolean;
  /** Why not: TIMEOUT, ECONNREFUSED, ENOTFOUND, HTTP_503, ... */
  code?: string;
  /** Round trip in ms when ok. */
  ms?: number;
}

export interface Reachability {
  /** Never throws. */
  probe(): Promise<ProbeResult>;
}

/** The part of a net.Socket the TCP probe uses. */
export interface SocketLike {
  once(event: 'connect', fn: () => void): unknown;
  once(event: 'error', fn: (err: Error & { code?: string }) => void): unknown;
  setTimeout(ms: number, fn: () => void): unknown;
  destroy(): unknown;
}

export interface TcpReachabilityOptions {
  host: string;
  port: number;
  timeoutMs?: number;
  /** Injectable for tests; default node:net connect. */
  connect?: (port: number, host: string) => SocketLike;
  now?: () => number;
}

export class TcpReachability implements Reachability {
  constructor(private readonly opts: TcpReachabilityOptions) {}

  probe(): Promise<ProbeResult> {
    const { host, port, timeoutMs = 5000, connect = netConnect, now = Date.now } = this.opts;
    const t0 = now();
    return new Promise((resolve) => {
      let done = false;
      let sock: SocketLike;
      const finish = (r: ProbeResult): void => {
        if (done) return;
        done = true;
        sock.destroy();
        resolve(r);
      };
      try {
        sock = connect(port, host);
      } catch (e) {
        resolve({ ok: false, code: (e as { code?: string }).code ?? 'CONNECT_FAILED' });
        return;
      }
      sock.setTimeout(timeoutMs, () => finish({ ok: false, code: 'TIMEOUT' }));
      sock.once('connect', () => finish({ ok: true, ms: now() - t0 }));
      sock.once('error', (err) => finish({ ok: false, code: err.code ?? 'CONNECT_FAILED' }));
    });
  }
}

export interface HttpReachabilityOptions {
  /** Health URL of the back end, e.g. https://acquirer.example/health. */
  url: string;
  timeoutMs?: number;
  /** Injectable for tests; default global fetch. */
  fetch?: (url: string, init: { signal: AbortSignal; method: 'GET' }) => Promise<{ ok: boolean; status: number }>;
  now?: () => number;
}

/** Any 2xx answer counts as reachable; the body is not read. */
export class HttpReachability implements Reachability {
  constructor(private readonly opts: HttpReachabilityOptions) {}

  async probe(): Promise<ProbeResult> {
    const { url, timeoutMs = 5000, now = Date.now } = this.opts;
    const doFetch = this.opts.fetch ?? ((u, init) => fetch(u, init));
    const t0 = now();
    try {
      const res = await doFetch(url, { method: 'GET', signal: AbortSignal.timeout(timeoutMs) });
      return res.ok ? { ok: true, ms: now() - t0 } : { ok: false, code: `HTTP_${res.status}` };
    } catch (e) {
      const name = (e as Error)?.name;
      if (name === 'TimeoutError' || name === 'AbortError') return { ok: false, code: 'TIMEOUT' };
      const code = (e as { cause?: { code?: string } })?.cause?.code;
      return { ok: false, code: code ?? 'FETCH_FAILED' };
    }
  }
}

/** Connectivity from a reachability probe alone (Ethernet / Wi-Fi boxes, or a modem behind a router). */
export class ReachabilityConnectivity implements Connectivity {
  private opened = false;
  constructor(private readonly reach: Reachability) {}

  async open(): Promise<void> {
    this.opened = true;
  }

  async close(): Promise<void> {
    this.opened = false;
  }

  async check(): Promise<LinkState> {
    if (!this.opened) return { up: false, source: 'reachability', code: LinkDownCode.NotOpen };
    const r = await this.reach.probe();
    return r.ok ? { up: true, source: 'reachability' } : { up: false, source: 'reachability', code: LinkDownCode.Unreachable };
  }
}

/** A link that is always up (development boxes, bench rigs). */
export class AlwaysConnectivity implements Connectivity {
  async open(): Promise<void> {}
  async close(): Promise<void> {}
  async check(): Promise<LinkState> {
    return { up: true, source: 'always' };
  }
}
