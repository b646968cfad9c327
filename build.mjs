/**
 * `npm run build`: bundles the three command lines into single ESM files under dist/.
 *
 *   dist/scanner.mjs  <- device/app/main.ts   (the box: `node dist/scanner.mjs run --config ...`)
 *   dist/wallet.mjs   <- wallet/cli/main.ts   (the reference wallet)
 *   dist/backend.mjs  <- backend/cli/main.ts  (the demo back end)
 *
 * Native addons stay external and load from node_modules at run time (dist/ sits next to it), so
 * the bundle runs from the repository root or from a release directory that ships node_modules.
 * zxing-wasm stays external too: it reads its .wasm from its own package directory.
 *
 * Usage: node build.mjs [--quiet] [--release]
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = dirname(fileURLToPath(import.meta.url));
const outdir = join(root, 'dist');

export const ENTRY_POINTS = {
  scanner: 'device/app/main.ts',
  wallet: 'wallet/cli/main.ts',
  backend: 'backend/cli/main.ts',
};

/** Native addons (and packages that load files from their own directory) resolved at run time. */
export const EXTERNAL = [
  'better-sqlite3',
  'bindings',
  'serialport',
  '@serialport/*',
  'nfc-pcsc',
  '@pokusew/pcsclite',
  'onoff',
  'epoll',
  'qrpay-sdnotify',
  'zxing-wasm',
  'zxing-wasm/*',
  '*.node',
];

/**
 * pino and other CommonJS dependencies call `require`, which an ES module lacks. The alias keeps the
 * banner's import from colliding with a bundled `import { createRequire } from 'node:module'`.
 */
const BANNER = "import { createRequire as __qrpayCreateRequire } from 'node:module'; const require = __qrpayCreateRequire(import.meta.url);";

/**
 * Our sources locate files next to themselves with `new URL('<relative>', import.meta.url)` (e.g. the
 * sd-notify addon under native/). In the bundle import.meta.url is dist/<name>.mjs, so the relative
 * part is rebased from the source file's directory to dist/.
 */
export const rebaseAssetUrls = {
  name: 'rebase-asset-urls',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes(`${join('node_modules', '')}`)) return undefined;
      const source = readFileSync(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return undefined;
      const contents = source.replace(/new URL\((['"])(\.{1,2}\/[^'"]+)\1,\s*import\.meta\.url\)/g, (_m, q, rel) => {
        const target = resolve(dirname(args.path), rel);
        let fromDist = relative(outdir, target).split('\\').join('/');
        if (!fromDist.startsWith('.')) fromDist = `./${fromDist}`;
        return `new URL(${q}${fromDist}${q}, import.meta.url)`;
      });
      return { contents, loader: 'ts' };
    });
  },
};

export async function buildAll({ quiet = false } = {}) {
  const result = await build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(Object.entries(ENTRY_POINTS).map(([name, src]) => [name, join(root, src)])),
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'linked',
    legalComments: 'none',
    external: EXTERNAL,
    banner: { js: BANNER },
    plugins: [rebaseAssetUrls],
    metafile: true,
    write: false,
    logLevel: quiet ? 'error' : 'warning',
  });
  // Each file is replaced atomically (write, then rename): a box or test starting from dist/ while a
  // build runs sees the old bundle or the new one, never half of one. Concurrent builds are harmless.
  mkdirSync(outdir, { recursive: true });
  for (const f of result.outputFiles) {
    const tmp = `${f.path}.${process.pid}.tmp`;
    writeFileSync(tmp, f.contents);
    renameSync(tmp, f.path);
  }
  if (!quiet) {
    for (const name of Object.keys(ENTRY_POINTS)) {
      const file = join(outdir, `${name}.mjs`);
      const kib = (statSync(file).size / 1024).toFixed(1);
      process.stdout.write(`${relative(root, file).padEnd(20)} ${kib.padStart(8)} KiB\n`);
    }
  }
  return result;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildAll({ quiet: process.argv.includes('--quiet') })
    // --release: pack release/qrpay-box-<version>.tar.gz from the fresh bundle (scripts/release.mjs).
    .then(() => (process.argv.includes('--release') ? import('./scripts/release.mjs').then((m) => m.makeRelease({ build: false })) : undefined))
    .catch((e) => {
      process.stderr.write(`build: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    });
}
