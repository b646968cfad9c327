/**
 * The control socket over a real unix socket in a temp dir: request/response framing, error
 * responses, the "service not running" error, stale socket cleanup, refusal to steal a live
 * socket, and the 0660 mode.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLog } from '../../drivers/common/log.ts';
import { controlRequest } from '../../device/app/control/client.ts';
import { controlSocketPath } from '../../device/app/control/protocol.ts';
import { type ControlServer, startControlServer } from '../../device/app/control/server.ts';
import { BoxError } from '../../device/core/errors.ts';

let dir: string;

/** A socket file nobody listens on, as a crashed box leaves behind (python3 binds and exits). */
function staleSocket(path: string): void {
  const r = spawnSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path]);
  if (r.status !== 0 || !existsSync(path)) throw new Error(`staleSocket: python3 failed: ${r.stderr}`);
}
let servers: ControlServer[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'qrpay-control-'));
  servers = [];
});
afterEach(async () => {
  for (const s of servers) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function serve(handle: Parameters<typeof startControlServer>[0]['handle'], path = join(dir, 'control.sock')): Promise<ControlServer> {
  const s = await startControlServer({ path, handle, log: silentLog });
  servers.push(s);
  return s;
}

/** Sends raw text and collects `n` response lines. */
function raw(path: string, text: string, n: number): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ path });
    let buf = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.write(text));
    s.on('data', (c: string) => {
      buf += c;
      const lines = buf.split('\n').filter((l) => l !== '');
      if (lines.length >= n && buf.endsWith('\n')) {
        s.destroy();
        resolve(lines.map((l) => JSON.parse(l)));
      }
    });
    s.on('error', reject);
  });
}

describe('control socket', () => {
  it('defaults to <stateDir>/control.sock and honours config.control.socket', () => {
    expect(controlSocketPath({ stateDir: '/var/lib/qrpay', control: {} })).toBe('/var/lib/qrpay/control.sock');
    expect(controlSocketPath({ stateDir: '/var/lib/qrpay', control: { socket: '/run/qrpay/c.sock' } })).toBe('/run/qrpay/c.sock');
  });

  it('answers a status request with the handler result and creates the socket with mode 0660', async () => {
    const seen: unknown[] = [];
    const s = await serve((req) => {
      seen.push(req);
      return { pending: 3 };
    });
    expect(await controlRequest(s.path, { cmd: 'status' })).toEqual({ pending: 3 });
    expect(seen).toEqual([{ cmd: 'status' }]);
    const st = statSync(s.path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o660);
  });

  it('answers several requests on one connection in order, and rejects junk without dying', async () => {
    const s = await serve(async (req) => {
      if (req.cmd === 'selftest') await new Promise((r) => setTimeout(r, 30));
      return req.cmd;
    });
    const out = await raw(s.path, '{"cmd":"selftest"}\n{"cmd":"status"}\nnot json\n{"cmd":"reboot"}\n{"cmd":"pattern","pattern":"purple"}\n', 5);
    expect(out[0]).toEqual({ ok: true, result: 'selftest' });
    expect(out[1]).toEqual({ ok: true, result: 'status' });
    expect(out[2]).toMatchObject({ ok: false, error: { code: 'CONTROL_BAD_REQUEST' } });
    expect(out[3]).toMatchObject({ ok: false, error: { code: 'CONTROL_BAD_REQUEST', message: expect.stringContaining('"reboot"') } });
    expect(out[4]).toMatchObject({ ok: false, error: { code: 'CONTROL_BAD_REQUEST' } });
    expect(await controlRequest(s.path, { cmd: 'pattern', pattern: 'accepted' })).toBe('pattern');
  });

  it('turns a handler error into an error response carrying its code', async () => {
    const s = await serve(() => {
      throw new BoxError('JOURNAL_IO', 'journal.counts: disk I/O error');
    });
    await expect(controlRequest(s.path, { cmd: 'status' })).rejects.toMatchObject({ code: 'JOURNAL_IO', message: 'journal.counts: disk I/O error' });
    // still serving afterwards
    await expect(controlRequest(s.path, { cmd: 'status' })).rejects.toMatchObject({ code: 'JOURNAL_IO' });
  });

  it('reports CONTROL_NOT_RUNNING when there is no socket, or a stale one nobody listens on', async () => {
    await expect(controlRequest(join(dir, 'absent.sock'), { cmd: 'status' })).rejects.toMatchObject({ code: 'CONTROL_NOT_RUNNING' });
    staleSocket(join(dir, 'stale.sock'));
    await expect(controlRequest(join(dir, 'stale.sock'), { cmd: 'status' })).rejects.toMatchObject({ code: 'CONTROL_NOT_RUNNING' });
  });

  it('times out when the handler never answers', async () => {
    const s = await serve(() => new Promise(() => {}));
    await expect(controlRequest(s.path, { cmd: 'status' }, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'CONTROL_TIMEOUT' });
  });

  it('replaces a stale socket file left by a crash, but refuses a live one and a regular file', async () => {
    const path = join(dir, 'control.sock');
    const first = await serve(() => 'first', path);
    await expect(startControlServer({ path, handle: () => 'second', log: silentLog })).rejects.toMatchObject({ code: 'CONTROL_IN_USE' });
    expect(await controlRequest(path, { cmd: 'status' })).toBe('first');
    await first.close();
    servers = [];
    staleSocket(path);
    const revived = await serve(() => 'revived', path);
    expect(await controlRequest(path, { cmd: 'status' })).toBe('revived');
    await revived.close();
    servers = [];
    const regular = join(dir, 'file.sock');
    writeFileSync(regular, 'x');
    await expect(startControlServer({ path: regular, handle: () => 0, log: silentLog })).rejects.toMatchObject({ code: 'CONTROL_PATH' });
    const again = await serve(() => 'again', path);
    expect(await controlRequest(again.path, { cmd: 'status' })).toBe('again');
  });
});
