/**
 * The real box process (tsx device/app/main.ts run, embedded-default shape with the tcp-sim
 * scanner) under a fake systemd: NOTIFY_SOCKET is a python3 AF_UNIX datagram listener with
 * SO_PASSCRED (as in test/unit/sd-notify-socket.test.ts) and WATCHDOG_USEC is set. READY=1 must
 * arrive once the box is up, WATCHDOG=1 pings must follow from the box's own pid, `scanner status`
 * must answer over the control socket meanwhile, and SIGTERM must send STOPPING=1.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HilLayout, writeHilConfig } from '../support/hil-config.ts';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const addonBuilt = existsSync(join(repoRoot, 'native/sdnotify/build/Release/sdnotify.node')) || existsSync(join(repoRoot, 'node_modules/qrpay-sdnotify/build/Release/sdnotify.node'));
const havePython = spawnSync('python3', ['-c', 'import socket; socket.SO_PASSCRED']).status === 0;

const LISTENER_PY = `
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
print('LISTENING', flush=True)
while True:
    data, anc, flags, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack('3i', payload[:12])[0]
    print(json.dumps({'pid': pid, 'msg': data.decode()}), flush=True)
`;

interface Datagram {
  pid: number | null;
  msg: string;
  at: number;
}

function onLines(p: ChildProcess, cb: (line: string) => void): void {
  let buf = '';
  p.stdout?.setEncoding('utf8');
  p.stdout?.on('data', (c: string) => {
    buf += c;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      cb(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
}

async function until<T>(what: string, get: () => T | undefined, timeoutMs: number, context: () => string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${context()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.runIf(addonBuilt && havePython)('box under a fake systemd notify socket', () => {
  let layout: HilLayout;
  let listener: ChildProcess;
  let box: ChildProcess;
  const datagrams: Datagram[] = [];
  let boxOut = '';
  let boxErr = '';
  const context = () => `datagrams: ${JSON.stringify(datagrams.map((d) => d.msg))}\nstdout: ${boxOut.slice(-2000)}\nstderr: ${boxErr.slice(-2000)}`;

  beforeAll(async () => {
    layout = writeHilConfig({ scanner: { kind: 'tcp-sim', port: 0 } });
    const sock = join(layout.dir, 'notify.sock');
    listener = spawn('python3', ['-u', '-c', LISTENER_PY, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res, rej) => {
      listener.once('exit', (c) => rej(new Error(`listener exited with ${c}`)));
      onLines(listener, (line) => {
        if (line === 'LISTENING') return res();
        datagrams.push({ ...(JSON.parse(line) as Omit<Datagram, 'at'>), at: Date.now() });
      });
    });
    box = spawn(process.execPath, ['--import', 'tsx', 'device/app/main.ts', 'run', '--config', layout.configPath], {
      cwd: repoRoot,
      env: { ...process.env, NOTIFY_SOCKET: sock, WATCHDOG_USEC: '1000000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    box.stdout?.on('data', (c: Buffer) => (boxOut += c.toString()));
    box.stderr?.on('data', (c: Buffer) => (boxErr += c.toString()));
  }, 30_000);

  afterAll(() => {
    if (box && box.exitCode === null && box.signalCode === null) box.kill('SIGKILL');
    if (listener && listener.exitCode === null) listener.kill();
    layout?.cleanup();
  });

  it('sends READY=1 from its own pid once up, then WATCHDOG=1 about every WatchdogSec/2', async () => {
    const ready = await until('READY=1', () => datagrams.find((d) => d.msg === 'READY=1'), 45_000, context);
    expect(ready.pid).toBe(box.pid);
    // READY comes after the control socket exists: the box is fully up.
    expect(existsSync(join(layout.stateDir, 'control.sock'))).toBe(true);
    await until('3 pings', () => (datagrams.filter((d) => d.msg === 'WATCHDOG=1').length >= 3 ? true : undefined), 10_000, context);
    const pings = datagrams.filter((d) => d.msg === 'WATCHDOG=1');
    expect(pings.every((d) => d.pid === box.pid)).toBe(true);
    expect(datagrams.findIndex((d) => d.msg === 'WATCHDOG=1')).toBeGreaterThan(datagrams.indexOf(ready));
    // 500 ms interval: 3 pings take well under 3 s (generous bound for a loaded CI machine)
    expect(pings[2]!.at - pings[0]!.at).toBeLessThan(3000);
  }, 60_000);

  it('answers `scanner status` over the control socket while running', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'device/app/main.ts', 'status', '--json', '--config', layout.configPath], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { merchantId: string; scanner: { state: string }; watchdog: { healthy: boolean } };
    expect(s.merchantId).toBe('HIL-CAFE');
    expect(s.scanner.state).toBe('connected');
    expect(s.watchdog).toMatchObject({ healthy: true });
  }, 40_000);

  it('sends STOPPING=1 on SIGTERM and exits 0', async () => {
    const exited = new Promise<number | null>((r) => box.once('exit', (code) => r(code)));
    box.kill('SIGTERM');
    expect(await exited).toBe(0);
    await until('STOPPING=1', () => datagrams.find((d) => d.msg === 'STOPPING=1'), 5000, context);
    expect(existsSync(join(layout.stateDir, 'control.sock'))).toBe(false);
  }, 20_000);
});
