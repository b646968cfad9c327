/**
 * Section 2: scan to verdict. A line arrives on a mock serial port (binding-mock), goes through
 * SerialLineScanner (LineReader, readline), Acceptor.handleScan (decide, SQLite FULL commit) and
 * ends at the indicator's show('accepted'). Timed from hrtime just before emitData() of the whole
 * line (delimiter included) and from the line's LineMeta.receivedAtNs.
 *
 * fsync latency on a shared machine drifts by the second, so the floor is measured interleaved
 * with the scans: one bare commit after every scan, a block of crypto-floor scans every `block`
 * scans, and one direct handleScan() (no serial stack) after every fifth scan.
 */
import type { BindingInterface, BindingPortInterface, OpenOptions } from '@serialport/bindings-cpp';
import { SerialPortMock } from 'serialport';
import { SerialLineScanner } from '../drivers/scanner/serial-line.ts';
import { createNodeProvider } from '../device/crypto/node-provider.ts';
import { buildBenchBox } from './bench-box.ts';
import type { CodeFactory } from './codes.ts';
import { buildScanFixture, measureCryptoFloor } from './floor.ts';
import { SqliteCommitFloor } from './sqlite-floor.ts';
import { median, type Summary, summarize, usSince } from './stats.ts';

// @serialport/binding-mock's ESM entry has no typings; serialport re-exposes the same object typed.
const MockBinding = SerialPortMock.binding;

export interface ScanResult {
  /** emitData() of the last byte -> show('accepted'). */
  fromEmit: Summary;
  /** LineMeta.receivedAtNs -> show('accepted'). */
  fromReceived: Summary;
  /** Acceptor.handleScan alone on the same journal (no serial stack). */
  handleScan: Summary;
  /** The bare WAL FULL commit, one after each scan. */
  commit: Summary;
  /** Crypto floor: median of the block medians, measured between scans. */
  cryptoFloorUs: number;
  /** Median microseconds of each journal call the Acceptor made during the timed scans. */
  journalMedians: Array<[string, number]>;
  declines: number;
}

/** MockBinding, keeping a handle on the port the driver opens so the bench can emitData() on it. */
class CapturingMockBinding implements BindingInterface {
  port: (BindingPortInterface & { emitData(d: Buffer): void }) | undefined;
  async list() {
    return MockBinding.list();
  }
  async open(options: OpenOptions): Promise<BindingPortInterface> {
    const port = await MockBinding.open(options);
    this.port = port as BindingPortInterface & { emitData(d: Buffer): void };
    return port;
  }
}

export async function runScanBench(factory: CodeFactory, dir: string, scans: number, warmup: number, recordBytes: number): Promise<ScanResult> {
  const p = createNodeProvider();
  const box = buildBenchBox(p, dir, 'scan', true);
  const floorDb = new SqliteCommitFloor(dir, recordBytes);
  const fixture = buildScanFixture();
  const path = `/dev/bench-scanner-${process.pid}`;
  MockBinding.createPort(path, { echo: false, record: false, maxReadSize: 65536 });
  const binding = new CapturingMockBinding();
  const scanner = new SerialLineScanner({ path, baudRate: 115200, delimiter: '\r' }, { binding, resolvePath: async (x) => x });

  let receivedAtNs = 0n;
  let declines = 0;
  scanner.onLine((text, meta) => {
    receivedAtNs = meta.receivedAtNs;
    if (box.acceptor.handleScan(text).kind !== 'accept') declines++;
  });
  await scanner.open();
  const port = binding.port;
  if (!port) throw new Error('bench.scan: the scanner did not open the mock port');

  try {
    const oneScan = async (line: Buffer): Promise<[number, number]> => {
      const accepted = box.indicator.nextAccepted();
      const t0 = process.hrtime.bigint();
      port.emitData(line);
      const shownNs = await accepted;
      return [Number(shownNs - t0) / 1000, Number(shownNs - receivedAtNs) / 1000];
    };
    const lines = (n: number) => factory.codes(n).map((c) => Buffer.from(`${c}\r`, 'latin1'));

    for (const line of lines(warmup)) {
      await oneScan(line);
      floorDb.commitOnce();
    }
    if (declines > 0) throw new Error(`bench.scan: ${declines} warm-up scans declined`);

    box.journalTimings.clear();
    const batch = lines(scans);
    const direct = factory.codes(Math.ceil(scans / 5));
    const fromEmit = new Float64Array(scans);
    const fromReceived = new Float64Array(scans);
    const commits = new Float64Array(scans);
    const directSamples = new Float64Array(direct.length);
    const cryptoBlocks: number[] = [];
    const block = Math.max(100, Math.floor(scans / 10));
    let scanWallUs = 0;
    let commitWallUs = 0;
    let directWallUs = 0;
    for (let i = 0; i < scans; i++) {
      if (i % block === 0) cryptoBlocks.push(measureCryptoFloor(100, fixture).medianUs);
      const t0 = process.hrtime.bigint();
      [fromEmit[i], fromReceived[i]] = await oneScan(batch[i]!);
      scanWallUs += usSince(t0);
      commits[i] = floorDb.commitOnce();
      commitWallUs += commits[i]!;
      if (i % 5 === 0) {
        const d0 = process.hrtime.bigint();
        if (box.acceptor.handleScan(direct[i / 5]!).kind !== 'accept') declines++;
        directSamples[i / 5] = usSince(d0);
        directWallUs += directSamples[i / 5]!;
      }
    }

    return {
      fromEmit: summarize(fromEmit, scanWallUs),
      fromReceived: summarize(fromReceived, scanWallUs),
      handleScan: summarize(directSamples, directWallUs),
      commit: summarize(commits, commitWallUs),
      cryptoFloorUs: median(cryptoBlocks),
      journalMedians: [...box.journalTimings].filter(([, xs]) => xs.length > 0).map(([name, xs]) => [name, median(xs)]),
      declines,
    };
  } finally {
    await scanner.close();
    floorDb.close();
    box.journal.close();
  }
}
