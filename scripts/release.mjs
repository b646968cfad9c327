/**
 * `npm run release`: builds the bundle and packs release/qrpay-box-<version>.tar.gz, the one file a
 * technician copies to a box and installs with `sudo ./install.sh` (docs/field-guide.md).
 *
 * Contents (top directory qrpay-box-<version>/):
 *   dist/scanner.mjs(.map)        the esbuild bundle (createRequire banner, native addons external)
 *   package.json, package-lock.json   trimmed to production dependencies: `npm ci --omit=dev` on the
 *                                 box builds better-sqlite3, serialport, nfc-pcsc and the sd_notify
 *                                 addon for the box's own arch (arm64) and Node ABI
 *   native/sdnotify/              source of the file: optional dependency qrpay-sdnotify (no build/)
 *   systemd/                      unit, journald drop-in, sysusers, udev, polkit, modprobe, overlay
 *   config/pi.example.json, install.sh, docs/field-guide.md, VERSION
 *
 * Usage: node scripts/release.mjs [--no-build] [--out dir]     (build.mjs --release calls makeRelease)
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** package.json for the box: what `npm ci --omit=dev` needs, and nothing for development. */
export function trimPackageJson(pkg) {
  const out = {
    name: pkg.name,
    version: pkg.version,
    private: true,
    description: pkg.description,
    type: pkg.type,
    engines: pkg.engines,
    scripts: { scanner: 'node dist/scanner.mjs' },
    dependencies: pkg.dependencies ?? {},
  };
  if (pkg.optionalDependencies) out.optionalDependencies = pkg.optionalDependencies;
  if (pkg.allowScripts) out.allowScripts = pkg.allowScripts;
  return out;
}

/** The lockfile without dev-only packages; the root entry mirrors the trimmed package.json. */
export function trimLockfile(lock, trimmedPkg) {
  if (!lock.packages) throw new Error('release: package-lock.json has no "packages" map (lockfileVersion >= 2 needed)');
  const packages = {};
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '') {
      const { devDependencies: _dev, ...rootEntry } = entry;
      packages[path] = { ...rootEntry, name: trimmedPkg.name, version: trimmedPkg.version };
      continue;
    }
    if (entry.dev === true) continue;
    packages[path] = entry;
  }
  return { ...lock, name: trimmedPkg.name, version: trimmedPkg.version, packages };
}

const SDNOTIFY_FILES = ['package.json', 'binding.gyp', 'sdnotify.c', 'index.cjs', 'index.d.ts'];

export async function makeRelease({ build = true, outDir = join(root, 'release'), quiet = false } = {}) {
  const say = (s) => quiet || process.stdout.write(`${s}\n`);
  if (build) {
    const buildFile = join(root, 'build.mjs');
    if (!existsSync(buildFile)) throw new Error('release: build.mjs is missing; cannot build the bundle');
    const { buildAll } = await import(pathToFileURL(buildFile).href);
    await buildAll({ quiet: true });
  }
  const bundle = join(root, 'dist', 'scanner.mjs');
  if (!existsSync(bundle)) throw new Error('release: dist/scanner.mjs is missing; run `node build.mjs` first');

  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const name = `qrpay-box-${pkg.version}`;
  const stage = join(outDir, name);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(join(stage, 'dist'), { recursive: true });

  for (const f of ['scanner.mjs', 'scanner.mjs.map']) {
    if (existsSync(join(root, 'dist', f))) copyFileSync(join(root, 'dist', f), join(stage, 'dist', f));
  }
  const trimmed = trimPackageJson(pkg);
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(trimmed, null, 2)}\n`);
  writeFileSync(join(stage, 'package-lock.json'), `${JSON.stringify(trimLockfile(lock, trimmed), null, 2)}\n`);
  mkdirSync(join(stage, 'native', 'sdnotify'), { recursive: true });
  for (const f of SDNOTIFY_FILES) copyFileSync(join(root, 'native', 'sdnotify', f), join(stage, 'native', 'sdnotify', f));
  cpSync(join(root, 'systemd'), join(stage, 'systemd'), { recursive: true });
  mkdirSync(join(stage, 'config'), { recursive: true });
  copyFileSync(join(root, 'config', 'pi.example.json'), join(stage, 'config', 'pi.example.json'));
  mkdirSync(join(stage, 'docs'), { recursive: true });
  copyFileSync(join(root, 'docs', 'field-guide.md'), join(stage, 'docs', 'field-guide.md'));
  copyFileSync(join(root, 'scripts', 'install.sh'), join(stage, 'install.sh'));
  chmodSync(join(stage, 'install.sh'), 0o755);
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout?.trim() || 'unknown';
  writeFileSync(join(stage, 'VERSION'), `${pkg.version} ${commit}\n`);

  const tarball = join(outDir, `${name}.tar.gz`);
  // --owner/--group: the files belong to root on the box whoever built the tarball.
  const tar = spawnSync('tar', ['--owner=0', '--group=0', '-czf', tarball, '-C', outDir, name], { encoding: 'utf8' });
  if (tar.status !== 0) throw new Error(`release: tar failed: ${tar.stderr}`);
  say(`${relative(process.cwd(), tarball)}  ${(statSync(tarball).size / 1024).toFixed(0)} KiB  (${pkg.version} ${commit})`);
  return { tarball, stage, version: pkg.version, name };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const outIdx = args.indexOf('--out');
  makeRelease({ build: !args.includes('--no-build'), ...(outIdx >= 0 ? { outDir: resolve(args[outIdx + 1]) } : {}) }).catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
