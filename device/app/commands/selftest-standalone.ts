/**
 * The self-test with the service stopped: this process opens the indicator, the scanner port,
 * the journal (read-only) and the key store itself, and closes them again.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Log, silentLog } from '../../../drivers/common/log.ts';
import { createIndicator } from '../../../drivers/indicator/factory.ts';
import { nobleProvider } from '../../core/crypto/noble.ts';
import { createNodeProvider } from '../../crypto/node-provider.ts';
import { FileKeyStore } from '../../keys/file-keystore.ts';
import { BoxClock } from '../clock.ts';
import type { BoxConfig } from '../config.ts';
import { runSelftest, type SelftestEnv } from './selftest.ts';
import { checkIndicator, checkScannerGm65, checkScannerTestScan } from './selftest-checks.ts';
import type { SelftestCheck, SelftestReport } from './selftest-report.ts';

/** Same floor as the box (device/app/box.ts): no true time is earlier. */
const BUILD_FLOOR_MS = Date.UTC(2026, 10, 1);

export interface StandaloneOptions {
  log?: Log;
  /** How long to wait for a test scan from a non-GM65 serial scanner. Default 20 s. */
  scanTimeoutMs?: number;
}

interface JournalFacts {
  integrity: string;
  lastKnownGoodMs: number | undefined;
}

/** Reads the journal read-only: no migration runs, nothing is written. */
async function readJournalFacts(path: string): Promise<JournalFacts | undefined> {
  if (!existsSync(path)) return undefined;
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db.pragma('integrity_check') as { integrity_check: string }[];
    let lastKnownGoodMs: number | undefined;
    try {
      const r = db.prepare('SELECT value FROM meta WHERE key = ?').get('clock.lastKnownGoodMs') as { value: string } | undefined;
      const v = r ? (JSON.parse(r.value) as unknown) : undefined;
      if (typeof v === 'number') lastKnownGoodMs = v;
    } catch {
      // an empty or foreign database has no meta table; integrity_check says the rest
    }
    return { integrity: rows.map((r) => r.integrity_check).join('; '), lastKnownGoodMs };
  } finally {
    db.close();
  }
}

async function scannerCheck(cfg: BoxConfig['scanner'], log: Log, scanTimeoutMs: number): Promise<SelftestCheck> {
  if (cfg.kind === 'tcp-sim') {
    return { name: 'scanner', ok: true, fatal: true, simulated: true, detail: `tcp-sim scanner (simulated) on ${cfg.host}:${cfg.port}: no hardware to ping` };
  }
  if (cfg.gm65) {
    const { openSerialByteTransport } = await import('../../../drivers/scanner/serial-bytes.ts');
    const { Gm65, GM65_PROBE_BAUDS } = await import('../../../drivers/scanner/gm65.ts');
    const transport = await openSerialByteTransport({ path: cfg.path, baudRate: cfg.baudRate });
    try {
      const gm65 = new Gm65(transport, { log });
      return await checkScannerGm65(cfg.path, {
        async ping() {
          const baud = await gm65.probeBaud([cfg.baudRate, ...GM65_PROBE_BAUDS.filter((b) => b !== cfg.baudRate)]);
          return baud === undefined ? undefined : { baud, firmware: await gm65.firmwareVersion() };
        },
      });
    } finally {
      await transport.close();
    }
  }
  const { SerialLineScanner } = await import('../../../drivers/scanner/serial-line.ts');
  const scanner = new SerialLineScanner({ path: cfg.path, baudRate: cfg.baudRate, delimiter: cfg.delimiter, maxLineBytes: cfg.maxLineBytes }, { log });
  await scanner.open();
  try {
    return await checkScannerTestScan(
      cfg.path,
      (timeoutMs) =>
        new Promise<string | undefined>((res) => {
          const timer = setTimeout(() => {
            off();
            res(undefined);
          }, timeoutMs);
          const off = scanner.onLine((line) => {
            clearTimeout(timer);
            off();
            res(line);
          });
        }),
      scanTimeoutMs,
    );
  } finally {
    await scanner.close();
  }
}

export async function standaloneSelftest(cfg: BoxConfig, env: SelftestEnv, opts: StandaloneOptions = {}): Promise<SelftestReport> {
  const log = opts.log ?? silentLog;
  const stateDir = resolve(cfg.stateDir);
  const facts = await readJournalFacts(resolve(stateDir, 'journal.db')).catch((e: unknown) => ({
    integrity: `cannot open: ${e instanceof Error ? e.message : String(e)}`,
    lastKnownGoodMs: undefined,
  }));
  const clock = new BoxClock({
    wallNow: env.nowMs,
    monoNow: () => performance.now(),
    loadLastKnownGood: () => facts?.lastKnownGoodMs,
    saveLastKnownGood: () => {},
    floorMs: BUILD_FLOOR_MS,
  });
  return runSelftest(
    {
      cfg,
      indicator: async () => {
        // Console indicator lines go to stderr so that `--json` output on stdout stays parseable.
        const indicator = await createIndicator(cfg.indicator, { log, stream: process.stderr });
        await indicator.open();
        try {
          return await checkIndicator(indicator, cfg.indicator.kind, env.patternMs, env.sleep);
        } finally {
          await indicator.close();
        }
      },
      scanner: () => scannerCheck(cfg.scanner, log, opts.scanTimeoutMs ?? 20_000),
      journalIntegrity: () => facts?.integrity,
      clock: () => ({ view: clock.view(), trusted: clock.trusted() }),
      store: new FileKeyStore({ stateDir }),
      provider: cfg.crypto === 'node' ? createNodeProvider() : nobleProvider,
    },
    'standalone',
    env,
  );
}
