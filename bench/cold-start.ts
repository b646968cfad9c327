/**
 * Cold start of the built bundle: spawn `node <bundle> run --config <temp config>` and time spawn()
 * to the 'box.ready' log line. The first run provisions the demo state (reported apart); the timed
 * runs start on that provisioned state, like a box rebooting.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BundleLocation {
  dir: string;
  entry: string;
  /** How the bundle came to be (for the report). */
  origin: string;
}

/**
 * dist/scanner.mjs; built with `node build.mjs` when missing. Without build.mjs, the bench bundles
 * device/app/main.ts itself into bench/.out (esbuild, native addons external) and says so.
 */
export async function locateBundle(repoRoot: string): Promise<BundleLocation> {
  const dist = join(repoRoot, 'dist');
  const entry = join(dist, 'scanner.mjs');
  if (existsSync(entry)) return { dir: dist, entry, origin: 'dist/scanner.mjs (existing)' };
  if (existsSync(join(repoRoot, 'build.mjs'))) {
    const r = spawnSync(process.execPath, ['build.mjs'], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0 && existsSync(entry)) return { dir: dist, entry, origin: 'dist/scanner.mjs (built now by node build.mjs)' };
    throw new Error(`bench.locateBundle: node build.mjs failed (status ${r.status}): ${(r.stderr ?? '').slice(-400)}`);
  }
  const out = join(repoRoot, 'bench', '.out');
  mkdirSync(out, { recursive: true });
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [join(repoRoot, 'device/app/main.ts')],
    outfile: join(out, 'scanner.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: false,
    logLevel: 'error',
    external: ['better-sqlite3', 'serialport', '@serialport/*', 'onoff', 'epoll', 'nfc-pcsc', '@pokusew/pcsclite', 'zxing-wasm'],
    banner: { js: "import { createRequire as __benchCreateRequire } from 'node:module'; const require = __benchCreateRequire(import.meta.url);" },
  });
  return { dir: out, entry: join(out, 'scanner.mjs'), origin: 'bench/.out/scanner.mjs (build.mjs missing: bench bundled device/app/main.ts with esbuild)' };
}

function writeConfig(dir: string): string {
  const cfgPath = join(dir, 'config.json');
  const config = {
    stateDir: join(dir, 'state'),
    demo: { dir: join(dir, 'demo') },
    currency: 'EUR',
    amount: { mode: 'fixed', price: '12.50' },
    scanner: { kind: 'tcp-sim', host: '127.0.0.1', port: 0 },
    indicator: { kind: 'console' },
    log: { level: 'info' },
    allowVolatileState: true,
  };
  writeFileSync(cfgPath, JSON.stringify(config, null, 2));
  return cfgPath;
}

/** One spawn -> 'box.ready' in ms. Stops the child (by its pid) with SIGTERM afterwards. */
function startOnce(entry: string, cfgPath: string, cwd: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, [entry, 'run', '--config', cfgPath], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let readyMs: number | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      if (readyMs !== undefined) return;
      out += chunk.toString('utf8');
      if (out.includes('"event":"box.ready"')) {
        readyMs = Number(process.hrtime.bigint() - t0) / 1e6;
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString('utf8');
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (readyMs !== undefined) resolve(readyMs);
      else reject(new Error(`bench.coldStart: no box.ready (exit ${code ?? signal}): ${(err || out).slice(-400)}`));
    });
  });
}

export interface ColdStartResult {
  firstBootMs: number;
  runsMs: number[];
}

export async function measureColdStart(entry: string, tmpDir: string, cwd: string, runs: number): Promise<ColdStartResult> {
  const dir = join(tmpDir, 'coldstart');
  mkdirSync(dir, { recursive: true });
  const cfgPath = writeConfig(dir);
  const firstBootMs = await startOnce(entry, cfgPath, cwd, 30_000);
  const runsMs: number[] = [];
  for (let i = 0; i < runs; i++) runsMs.push(await startOnce(entry, cfgPath, cwd, 30_000));
  return { firstBootMs, runsMs };
}
