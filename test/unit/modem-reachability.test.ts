import { EventEmitter } from 'node:events';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AlwaysConnectivity,
  HttpReachability,
  ReachabilityConnectivity,
  type SocketLike,
  TcpReachability,
} from '../../drivers/modem/reachability.ts';

/** A socket whose fate the test decides. */
class FakeSocket extends EventEmitter implements SocketLike {
  destroyed = false;
  timeoutFn: (() => void) | undefined;
  timeoutMs = 0;
  setTimeout(ms: number, fn: () => void): this {
    this.timeoutMs = ms;
    this.timeoutFn = fn;
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
}

describe('TcpReachability', () => {
  afterEach(() => vi.useRealTimers());

  it('is ok on connect, reports the round trip and closes the socket', async () => {
    const sock = new FakeSocket();
    let t = 1000;
    const r = new TcpReachability({ host: 'acq.example', port: 443, connect: () => sock, now: () => t });
    const p = r.probe();
    t = 1042;
    sock.emit('connect');
    await expect(p).resolves.toEqual({ ok: true, ms: 42 });
    expect(sock.destroyed).toBe(true);
  });

  it('reports the errno code on error and TIMEOUT on the socket timeout', async () => {
    const a = new FakeSocket();
    const pa = new TcpReachability({ host: 'h', port: 1, connect: () => a }).probe();
    a.emit('error', Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }));
    await expect(pa).resolves.toEqual({ ok: false, code: 'ECONNREFUSED' });

    const b = new FakeSocket();
    const pb = new TcpReachability({ host: 'h', port: 1, timeoutMs: 1500, connect: () => b }).probe();
    expect(b.timeoutMs).toBe(1500);
    b.timeoutFn?.();
    b.emit('connect'); // too late: already settled
    await expect(pb).resolves.toEqual({ ok: false, code: 'TIMEOUT' });
    expect(b.destroyed).toBe(true);
  });

  it('connects to a real local server, and fails on a closed port', async () => {
    const server = createServer((s) => s.destroy());
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
    const { port } = server.address() as { port: number };
    await expect(new TcpReachability({ host: '127.0.0.1', port }).probe()).resolves.toMatchObject({ ok: true });
    await new Promise<void>((res) => server.close(() => res()));
    await expect(new TcpReachability({ host: '127.0.0.1', port }).probe()).resolves.toEqual({ ok: false, code: 'ECONNREFUSED' });
  });
});

describe('HttpReachability', () => {
  it('2xx is ok; other statuses, timeouts and network errors are not', async () => {
    const fetch = vi.fn();
    const r = new HttpReachability({ url: 'https://acq.example/health', fetch, now: () => 0 });
    fetch.mockResolvedValueOnce({ ok: true, status: 204 });
    await expect(r.probe()).resolves.toEqual({ ok: true, ms: 0 });
    expect(fetch.mock.calls[0]?.[0]).toBe('https://acq.example/health');
    expect(fetch.mock.calls[0]?.[1]).toMatchObject({ method: 'GET' });
    expect(fetch.mock.calls[0]?.[1].signal).toBeInstanceOf(AbortSignal);
    fetch.mockResolvedValueOnce({ ok: false, status: 503 });
    await expect(r.probe()).resolves.toEqual({ ok: false, code: 'HTTP_503' });
    fetch.mockRejectedValueOnce(Object.assign(new Error('timed out'), { name: 'TimeoutError' }));
    await expect(r.probe()).resolves.toEqual({ ok: false, code: 'TIMEOUT' });
    fetch.mockRejectedValueOnce(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ENOTFOUND' } }));
    await expect(r.probe()).resolves.toEqual({ ok: false, code: 'ENOTFOUND' });
  });
});

describe('ReachabilityConnectivity and AlwaysConnectivity', () => {
  it('follows the probe once open', async () => {
    const probe = vi.fn().mockResolvedValue({ ok: true });
    const c = new ReachabilityConnectivity({ probe });
    await expect(c.check()).resolves.toEqual({ up: false, source: 'reachability', code: 'NOT_OPEN' });
    await c.open();
    await expect(c.check()).resolves.toEqual({ up: true, source: 'reachability' });
    probe.mockResolvedValue({ ok: false, code: 'TIMEOUT' });
    await expect(c.check()).resolves.toEqual({ up: false, source: 'reachability', code: 'BACKEND_UNREACHABLE' });
  });

  it('always is up', async () => {
    await expect(new AlwaysConnectivity().check()).resolves.toEqual({ up: true, source: 'always' });
  });
});
