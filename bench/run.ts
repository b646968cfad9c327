/**
 * `npm run bench` — the box's benchmark. Every ratio compares two figures measured in this one
 * run on this machine; nothing is compared with numbers from another run.
 *
 *   npx tsx bench/run.ts [--quick] [--dir <path for the temp journals>] [--no-cold-start]
 */
import { mkdtempSync, realpathSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createNodeProvider } from '../device/crypto/node-provider.ts';
import { CodeFactory } from './codes.ts';
import { locateBundle, measureColdStart } from './cold-start.ts';
import { runDecideBench } from './decide-bench.ts';
import { printReconcile, RECONCILE_BYTES_GOAL, RECONCILE_RATIO_GOAL, runReconcileBench } from './reconcile-bench.ts';
import { bundleBytes, runFootprintBench } from './footprint.ts';
import { runScanBench } from './scan-bench.ts';
import { fmtBytes, fmtUs, median, ratioText, timingRow } from './stats.ts';

const CORE_GOAL = 1.3;
const SCAN_GOAL = 1.3;

const HEADER = `qrpay-box bench. Ratios are "ours / floor", both measured in this run (lower is better, 1.0 = no overhead):
  core(node)/floor  decide() of a valid static-flow code on the node:crypto provider (parse, HPKE open, 2 Ed25519
                    verifies, every check, debit record signed) / the raw node:crypto floor of bench/floor.ts
                    (HPKE open + 2 Ed25519 verifies, hand-written, wallet key imported fresh). Goal <= ${CORE_GOAL}.
  scan/floor        last byte of a line emitted on a mock serial port -> indicator show('accepted'), SQLite FULL
                    commit included / (crypto floor median + bare better-sqlite3 WAL FULL commit median). Goal <= ${SCAN_GOAL}.
  Medians and p99 are per operation; "/s" is operations over the loop's wall time. The machine may be shared:
  compare ratios, not absolute times, across runs.`;

interface Sizes {
  nodeDecides: number;
  nobleDecides: number;
  rounds: number;
  scans: number;
  scanWarmup: number;
  footprintScans: number;
  footprintWarmup: number;
  coldRuns: number;
  reconcileDebits: number;
}

const FULL: Sizes = { nodeDecides: 5000, nobleDecides: 300, rounds: 5, scans: 5000, scanWarmup: 500, footprintScans: 10_000, footprintWarmup: 1000, coldRuns: 5, reconcileDebits: 10_000 };
const QUICK: Sizes = { nodeDecides: 1000, nobleDecides: 50, rounds: 3, scans: 1000, scanWarmup: 100, footprintScans: 2000, footprintWarmup: 200, coldRuns: 3, reconcileDebits: 2000 };

/** The filesystem holding `path` (longest mount point prefix in /proc/mounts). */
function fsTypeOf(path: string): string {
  try {
    const real = realpathSync(path);
    let best = { mount: '', type: 'unknown', dev: '' };
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [dev, mount, type] = line.split(' ');
      if (!dev || !mount || !type) continue;
      if ((real === mount || real.startsWith(mount.endsWith('/') ? mount : `${mount}/`)) && mount.length >= best.mount.length) best = { mount, type, dev };
    }
    return `${best.type} (${best.dev} on ${best.mount})`;
  } catch {
    return 'unknown';
  }
}

const section = (title: string) => console.log(`\n== ${title}`);
const elapsed = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, dir: { type: 'string' }, 'no-cold-start': { type: 'boolean' } } });
  const sizes = values.quick ? QUICK : FULL;
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const tmp = mkdtempSync(join(values.dir ?? tmpdir(), 'qrpay-bench-'));
  const tStart = performance.now();

  console.log(HEADER);
  console.log(
    `\nnode ${process.version} ${process.arch}, ${availableParallelism()} cpu (${cpus()[0]?.model.trim() ?? '?'}), ${values.quick ? 'QUICK' : 'full'} run; journals in ${tmp} on ${fsTypeOf(tmp)}`,
  );

  try {
    const t0 = performance.now();
    // Codes spread over 64 wallets (see CodeFactory); each code is generated before its timed loop.
    const factory = new CodeFactory(createNodeProvider(), 64);

    section('1. Core decision per provider (valid static-flow code, fresh counter each time)');
    const d = runDecideBench(factory, sizes.nodeDecides, sizes.nobleDecides, sizes.rounds);
    const coreRatio = d.node.medianUs / d.floor.medianUs;
    console.log(timingRow('raw crypto floor (node:crypto, floor.ts)', { n: sizes.nodeDecides, ...d.floor }, `median of ${d.floor.rounds} interleaved rounds`));
    console.log(timingRow('decide() on node provider', d.node, `x${coreRatio.toFixed(2)} floor`));
    console.log(timingRow('decide() on noble provider', d.noble, `x${(d.noble.medianUs / d.floor.medianUs).toFixed(2)} floor`));
    console.log(`  core(node)/floor at the median: ${ratioText(coreRatio, CORE_GOAL)}   [${elapsed(t0)}]`);

    section('2. Scan to verdict (mock serial line -> SerialLineScanner -> Acceptor -> SQLite FULL commit -> show(accepted))');
    const t1 = performance.now();
    const s = await runScanBench(factory, tmp, sizes.scans, sizes.scanWarmup, d.recordBytes);
    const scanFloorUs = s.cryptoFloorUs + s.commit.medianUs;
    const scanRatio = s.fromEmit.medianUs / scanFloorUs;
    console.log(`  ${'crypto floor (blocks between the scans)'.padEnd(44)} median ${fmtUs(s.cryptoFloorUs).padStart(9)}`);
    console.log(timingRow(`bare SQLite WAL FULL commit (${d.recordBytes} B row)`, s.commit, 'one after each scan'));
    console.log(`  ${'floor = crypto floor + bare commit'.padEnd(44)} median ${fmtUs(scanFloorUs).padStart(9)}  (sum of the two medians)`);
    console.log(timingRow('emitData -> show(accepted)', s.fromEmit, `x${scanRatio.toFixed(2)} floor`));
    console.log(timingRow('LineMeta.receivedAtNs -> show(accepted)', s.fromReceived, `x${(s.fromReceived.medianUs / scanFloorUs).toFixed(2)} floor`));
    console.log(timingRow('Acceptor.handleScan alone (same journal)', s.handleScan, `x${(s.handleScan.medianUs / scanFloorUs).toFixed(2)} floor, every 5th scan`));
    console.log(`  journal calls inside handleScan (median): ${s.journalMedians.map(([n, us]) => `${n} ${fmtUs(us)}`).join(', ')}`);
    const commitAcceptUs = s.journalMedians.find(([n]) => n === 'commitAccept')?.[1] ?? Number.NaN;
    console.log(`  journal.commitAccept / bare commit at the median: x${(commitAcceptUs / s.commit.medianUs).toFixed(2)} (3 rows, 7 indexes, checks vs 1 row)`);
    if (s.declines > 0) console.log(`  WARNING: ${s.declines} scans declined`);
    console.log(`  scan/floor at the median (from emitData): ${ratioText(scanRatio, SCAN_GOAL)}   [${elapsed(t1)}]`);

    section('3. Other figures');
    const t2 = performance.now();
    const f = await runFootprintBench(factory, tmp, sizes.footprintScans, sizes.footprintWarmup, d.recordBytes);
    console.log(
      `  RSS growth per 10,000 scans after ${sizes.footprintWarmup} warm-up scans: ${fmtBytes(f.rssGrowthPer10k)} (heap used ${fmtBytes(f.heapGrowthPer10k)}; measured over ${f.scans} scans, gc ${f.gcAvailable ? 'forced before each snapshot' : 'NOT available: includes garbage'})`,
    );
    console.log(
      `  disk writes per accepted scan: ${fmtBytes(f.storageBytesPerScan)} to the block layer (/proc/self/io write_bytes), ${fmtBytes(f.syscallBytesPerScan)} through write() (wchar); bare commit floor ${fmtBytes(f.floorStorageBytesPerCommit)}`,
    );
    console.log(`  journal growth per scan: ${fmtBytes(f.fileGrowthPerScan)} (db + wal files); WAL at the end ${fmtBytes(f.walBytesAtEnd)}`);

    let bundle: { origin: string; files: number; bytes: number } | undefined;
    let cold: { firstBootMs: number; runsMs: number[] } | undefined;
    let coldNote = '';
    try {
      const loc = await locateBundle(repoRoot);
      bundle = { origin: loc.origin, ...bundleBytes(loc.dir) };
      console.log(`  bundle: ${fmtBytes(bundle.bytes)} in ${bundle.files} .mjs file(s), ${bundle.origin}`);
      if (values['no-cold-start']) coldNote = 'skipped (--no-cold-start)';
      else cold = await measureColdStart(loc.entry, tmp, repoRoot, sizes.coldRuns);
    } catch (e) {
      coldNote = `failed: ${e instanceof Error ? e.message : String(e)}`;
    }
    if (cold) {
      console.log(
        `  cold start spawn -> box.ready: median ${median(cold.runsMs).toFixed(0)} ms over ${cold.runsMs.length} runs (${cold.runsMs.map((x) => x.toFixed(0)).join(', ')} ms); first boot with demo provisioning ${cold.firstBootMs.toFixed(0)} ms`,
      );
    } else {
      console.log(`  cold start: ${coldNote}`);
    }
    console.log(`  [${elapsed(t2)}]`);

    section(`4. Reconcile ${sizes.reconcileDebits} queued debits over loopback HTTP (real back end, journal, Uploader)`);
    const t3 = performance.now();
    const rec = await runReconcileBench(sizes.reconcileDebits, tmp);
    printReconcile(rec);
    console.log(`  [${elapsed(t3)}]`);

    section(`Summary (total ${elapsed(tStart)})`);
    const rows: Array<[string, string, string, string, string]> = [
      ['figure', 'median', 'p99', 'ratio', 'goal'],
      ['decide() node', fmtUs(d.node.medianUs), fmtUs(d.node.p99Us), `x${coreRatio.toFixed(2)}`, `<= ${CORE_GOAL} ${coreRatio <= CORE_GOAL ? 'met' : 'MISSED'}`],
      ['decide() noble', fmtUs(d.noble.medianUs), fmtUs(d.noble.p99Us), `x${(d.noble.medianUs / d.floor.medianUs).toFixed(2)}`, '-'],
      ['crypto floor', fmtUs(d.floor.medianUs), fmtUs(d.floor.p99Us), 'x1.00', '-'],
      ['scan -> accepted', fmtUs(s.fromEmit.medianUs), fmtUs(s.fromEmit.p99Us), `x${scanRatio.toFixed(2)}`, `<= ${SCAN_GOAL} ${scanRatio <= SCAN_GOAL ? 'met' : 'MISSED'}`],
      ['scan floor (crypto+commit)', fmtUs(scanFloorUs), '-', 'x1.00', '-'],
      ['bare FULL commit', fmtUs(s.commit.medianUs), fmtUs(s.commit.p99Us), '-', '-'],
      ['cold start', cold ? `${median(cold.runsMs).toFixed(0)} ms` : 'n/a', '-', '-', '-'],
      ['RSS / 10k scans', fmtBytes(f.rssGrowthPer10k), '-', '-', '-'],
      ['disk writes / scan', fmtBytes(f.storageBytesPerScan), '-', '-', '-'],
      ['bundle', bundle ? fmtBytes(bundle.bytes) : 'n/a', '-', '-', '-'],
      ['reconcile debits/s', rec.debitsPerSecond.toFixed(0), '-', `${(rec.ratio * 100).toFixed(0)}%`, `>= ${RECONCILE_RATIO_GOAL * 100}% ${rec.ratio >= RECONCILE_RATIO_GOAL ? 'met' : 'MISSED'}`],
      ['reconcile B/debit (wire)', rec.wireUpBytesPerDebit.toFixed(0), '-', '-', `<= ${RECONCILE_BYTES_GOAL} ${rec.wireUpBytesPerDebit <= RECONCILE_BYTES_GOAL ? 'met' : 'MISSED'}`],
    ];
    const widths = [28, 10, 10, 7, 12];
    for (const r of rows) console.log(`  ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
