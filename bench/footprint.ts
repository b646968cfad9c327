/**
 * Section 3: memory growth and disk writes per scan (in-process, through the Acceptor), the bundle
 * size and the cold start of the built bundle.
 */
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createNodeProvider } from '../device/crypto/node-provider.ts';
import { buildBenchBox } from './bench-box.ts';
import type { CodeFactory } from './codes.ts';
import { SqliteCommitFloor } from './sqlite-floor.ts';
import { yieldToLoop } from './stats.ts';

export interface FootprintResult {
  scans: number;
  gcAvailable: boolean;
  rssGrowthPer10k: number;
  heapGrowthPer10k: number;
  /** /proc/self/io write_bytes (sent to the block layer) per scan; NaN when /proc is missing. */
  storageBytesPerScan: number;
  /** /proc/self/io wchar (bytes passed to write syscalls) per scan. */
  syscallBytesPerScan: number;
  /** Growth of journal.db + journal.db-wal per scan. */
  fileGrowthPerScan: number;
  walBytesAtEnd: number;
  /** write_bytes per bare WAL FULL commit of one debit-like row (the storage floor). */
  floorStorageBytesPerCommit: number;
}

/** global.gc, or one obtained through V8 flags when node runs without --expose-gc. */
function findGc(): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

function procIo(): { writeBytes: number; wchar: number } | undefined {
  try {
    const text = readFileSync('/proc/self/io', 'utf8');
    const field = (k: string) => Number(new RegExp(`^${k}: (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    return { writeBytes: field('write_bytes'), wchar: field('wchar') };
  } catch {
    return undefined;
  }
}

const sizeOf = (path: string) => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

export async function runFootprintBench(factory: CodeFactory, dir: string, scans: number, warmup: number, recordBytes: number): Promise<FootprintResult> {
  const box = buildBenchBox(createNodeProvider(), dir, 'footprint');
  const gc = findGc();
  const settle = async () => {
    await yieldToLoop();
    gc?.();
    gc?.();
  };
  try {
    const run = (codes: readonly string[]) => {
      for (const c of codes) if (box.acceptor.handleScan(c).kind !== 'accept') throw new Error('bench.footprint: a scan declined');
    };
    run(factory.codes(warmup));
    const codes = factory.codes(scans); // generated before the "before" snapshot
    await settle();
    const rss0 = process.memoryUsage();
    const io0 = procIo();
    const files0 = sizeOf(box.dbPath) + sizeOf(`${box.dbPath}-wal`);
    run(codes);
    const io1 = procIo();
    const files1 = sizeOf(box.dbPath) + sizeOf(`${box.dbPath}-wal`);
    await settle();
    const rss1 = process.memoryUsage();
    const per10k = 10_000 / scans;
    const floorStorageBytesPerCommit = measureFloorWrites(dir, Math.min(scans, 2000), recordBytes);
    return {
      scans,
      gcAvailable: gc !== undefined,
      rssGrowthPer10k: (rss1.rss - rss0.rss) * per10k,
      heapGrowthPer10k: (rss1.heapUsed - rss0.heapUsed) * per10k,
      storageBytesPerScan: io0 && io1 ? (io1.writeBytes - io0.writeBytes) / scans : Number.NaN,
      syscallBytesPerScan: io0 && io1 ? (io1.wchar - io0.wchar) / scans : Number.NaN,
      fileGrowthPerScan: (files1 - files0) / scans,
      walBytesAtEnd: sizeOf(`${box.dbPath}-wal`),
      floorStorageBytesPerCommit,
    };
  } finally {
    box.journal.close();
  }
}

/** write_bytes per bare commit, after as many warm-up commits (the WAL reaches its checkpoint cycle). */
function measureFloorWrites(dir: string, commits: number, recordBytes: number): number {
  const floorDir = join(dir, 'floor-io');
  mkdirSync(floorDir, { recursive: true });
  const floor = new SqliteCommitFloor(floorDir, recordBytes);
  try {
    for (let i = 0; i < commits; i++) floor.commitOnce();
    const io0 = procIo();
    for (let i = 0; i < commits; i++) floor.commitOnce();
    const io1 = procIo();
    return io0 && io1 ? (io1.writeBytes - io0.writeBytes) / commits : Number.NaN;
  } finally {
    floor.close();
  }
}

/** Total bytes of the *.mjs files in `dir`. */
export function bundleBytes(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.mjs')) continue;
    files++;
    bytes += statSync(join(dir, name)).size;
  }
  return { files, bytes };
}
