/**
 * End-to-end: the real N-API addon (native/sdnotify) talking to a fake NOTIFY_SOCKET.
 *
 * The listener is a python3 AF_UNIX SOCK_DGRAM socket with SO_PASSCRED, so every datagram arrives
 * with the kernel-attached sender pid: that is what systemd checks for NotifyAccess=main, and the
 * test asserts it equals the child's own pid. The child is a small node script using
 * device/app/sd-notify.ts and device/app/watchdog.ts with real timers.
 *
 * When the addon is not built yet (fresh clone) beforeAll builds it with `npm run build` in
 * native/sdnotify (npm's bundled node-gyp; works offline with nodedir=/usr). If that fails, or
 * python3 is missing, each test is skipped with the reason.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const addonDir = path.join(repoRoot, 'native/sdnotify');
const addonFile = path.join(addonDir, 'build/Release/sdnotify.node');

const LISTENER_PY = `
import json, socket, struct, sys
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind('\\0' + addr[1:] if addr.startswith('@') else addr)
print('LISTENING', flush=True)
while True:
    data, anc, flags, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack('3i', payload[:12])[0]
    print(json.dumps({'pid': pid, 'msg': data.decode()}), flush=True)
`;

function childScript(): string {
  const notify = pathToFileURL(path.join(repoRoot, 'device/app/sd-notify.ts')).href;
  const watchdog = pathToFileURL(path.join(repoRoot, 'device/app/watchdog.ts')).href;
  return `
import { performance } from 'node:perf_hooks';
import { createNotifier } from ${JSON.stringify(notify)};
import { createWatchdog, nodeTimers } from ${JSON.stringify(watchdog)};
const out = (level) => (obj, msg) => console.log(JSON.stringify({ level, ...obj, msg }));
const log = { debug() {}, info: out('info'), warn: out('warn'), error: out('error'), child: () => log };
const mode = process.argv[2];
const n = createNotifier({ env: process.env, log });
if (mode === 'basic') {
  n.ready(); n.watchdog(); n.status('hello'); n.stopping();
} else {
  const wd = createWatchdog({ notifier: n, pingIntervalMs: n.watchdogIntervalMs, maxLagMs: 300, probeMs: 25,
    now: () => performance.now(), timers: nodeTimers, log });
  const hb = wd.register('scanner', 300);
  const beating = setInterval(() => hb.beat(), 50);
  n.ready();
  wd.start();
  setTimeout(() => {
    n.status('TEST_WEDGE_BEGIN');
    if (mode === 'lag') {
      // A partial wedge: the loop still runs timers, but keeps getting stuck for 600 ms.
      setInterval(() => { const end = performance.now() + 600; while (performance.now() < end) {} }, 10);
    } else {
      clearInterval(beating); // the scanner driver stopped beating
    }
    setTimeout(() => { n.stopping(); process.exit(0); }, 1500);
  }, 1000);
}
`;
}

interface Datagram {
  pid: number | null;
  msg: string;
}

let work: string;
let skipReason: string | undefined;
const children: ChildProcess[] = [];

function linesOf(p: ChildProcess, onLine: (line: string) => void): void {
  let buf = '';
  p.stdout?.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
}

/** Starts the listener, runs the child to completion, returns what the socket received. */
async function runScenario(mode: string, socketAddr: string, env: Record<string, string> = {}) {
  const listener = spawn('python3', ['-u', '-c', LISTENER_PY, socketAddr], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(listener);
  const datagrams: Datagram[] = [];
  let sawStopping: () => void = () => {};
  const stopping = new Promise<void>((resolve) => {
    sawStopping = resolve;
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('exit', (code) => reject(new Error(`listener exited early with ${code}`)));
    linesOf(listener, (line) => {
      if (line === 'LISTENING') return resolve();
      const d = JSON.parse(line) as Datagram;
      datagrams.push(d);
      if (d.msg === 'STOPPING=1') sawStopping();
    });
  });

  const child = spawn(process.execPath, ['--import', 'tsx', path.join(work, 'child.ts'), mode], {
    cwd: repoRoot,
    env: { ...process.env, NOTIFY_SOCKET: socketAddr, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const logLines: Array<Record<string, unknown>> = [];
  linesOf(child, (line) => {
    if (line.startsWith('{')) logLines.push(JSON.parse(line) as Record<string, unknown>);
  });
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  await stopping; // datagrams are ordered: STOPPING=1 is the child's last message
  listener.kill();
  return { datagrams, childPid: child.pid, exitCode, logLines };
}

const messages = (ds: Datagram[]) => ds.map((d) => d.msg);

describe('sd_notify through the real addon to a unix datagram socket', () => {
  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), 'qrpay-sdnotify-'));
    writeFileSync(path.join(work, 'child.ts'), childScript());
    if (spawnSync('python3', ['-c', 'import socket; socket.SO_PASSCRED']).status !== 0) {
      skipReason = 'python3 with socket.SO_PASSCRED is needed for the fake NOTIFY_SOCKET listener';
      return;
    }
    if (!existsSync(addonFile)) {
      const build = spawnSync('npm', ['run', 'build'], { cwd: addonDir, encoding: 'utf8', timeout: 120_000 });
      if (build.status !== 0 || !existsSync(addonFile)) {
        skipReason = `native/sdnotify is not built and \`npm run build\` there failed (needs python3, make, g++, Node headers): ${build.stderr?.slice(-400)}`;
      }
    }
  });

  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('delivers READY=1, WATCHDOG=1, STATUS and STOPPING=1 from the main pid (path socket)', async (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    const r = await runScenario('basic', path.join(work, 'notify.sock'));
    expect(r.exitCode).toBe(0);
    expect(messages(r.datagrams)).toEqual(['READY=1', 'WATCHDOG=1', 'STATUS=hello', 'STOPPING=1']);
    // SCM_CREDENTIALS: the sender is the node process itself, which NotifyAccess=main requires.
    expect(r.datagrams.every((d) => d.pid === r.childPid)).toBe(true);
    expect(r.logLines).toEqual([]);
  });

  it('supports abstract-namespace sockets ("@name", as systemd uses)', async (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    const r = await runScenario('basic', `@qrpay-test-${process.pid}-${Date.now()}`);
    expect(messages(r.datagrams)).toEqual(['READY=1', 'WATCHDOG=1', 'STATUS=hello', 'STOPPING=1']);
    expect(r.datagrams[0]?.pid).toBe(r.childPid);
  });

  it.for([
    ['lag', 'WATCHDOG_LAG'],
    ['heartbeat', 'WATCHDOG_HEARTBEAT'],
  ] as const)('stops WATCHDOG=1 once wedged (%s) and logs %s once', async ([mode, code], ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    // WatchdogSec=0.4 -> ping every 200 ms.
    const r = await runScenario(mode, path.join(work, `${mode}.sock`), { WATCHDOG_USEC: '400000' });
    expect(r.exitCode).toBe(0);
    const msgs = messages(r.datagrams);
    const begin = msgs.indexOf('STATUS=TEST_WEDGE_BEGIN');
    const wedged = msgs.findIndex((m) => m.startsWith('STATUS=wedged: '));
    expect(msgs[0]).toBe('READY=1');
    expect(begin).toBeGreaterThan(0);
    // ~1 s healthy at 200 ms: at least 3 pings before the wedge.
    expect(msgs.slice(0, begin).filter((m) => m === 'WATCHDOG=1').length).toBeGreaterThanOrEqual(3);
    expect(wedged).toBeGreaterThan(begin);
    // Between the wedge and its detection at most the pings inside the tolerance window.
    expect(msgs.slice(begin, wedged).filter((m) => m === 'WATCHDOG=1').length).toBeLessThanOrEqual(2);
    // After detection: silence, then the orderly STOPPING=1.
    expect(msgs.slice(wedged + 1)).toEqual(['STOPPING=1']);
    expect(r.logLines.filter((l) => l['code'] === code)).toHaveLength(1);
    expect(r.logLines.filter((l) => l['level'] === 'error')).toHaveLength(1);
    expect(r.datagrams.every((d) => d.pid === r.childPid)).toBe(true);
  });
});
