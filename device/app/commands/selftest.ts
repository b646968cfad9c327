/**
 * `scanner selftest`: which checks run, and against what. Inside the running service the checks
 * use its live drivers (`serviceSelftest`, reached over the control socket); with the service
 * stopped this process opens the hardware itself (`standaloneSelftest`).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Log } from '../../../drivers/common/log.ts';
import type { Indicator } from '../../../drivers/indicator/types.ts';
import { defaultPcscdSocketPath, type PcscdProbe, probePcscdSocket } from '../../../drivers/nfc/pcscd-probe.ts';
import type { ScannerStatus } from '../../../drivers/scanner/types.ts';
import type { CryptoProvider } from '../../core/crypto/provider.ts';
import type { KeyStore } from '../../keys/types.ts';
import type { BoxConfig } from '../config.ts';
import { loadProvisioned } from '../provision.ts';
import { readBackendPin } from './backend-pin.ts';
import {
  type AtPort,
  checkBackend,
  checkClock,
  checkIndicator,
  checkKeys,
  checkModem,
  checkNfc,
  checkPower,
  checkScannerLive,
  checkStorage,
  type Sleep,
} from './selftest-checks.ts';
import { guarded, type SelftestCheck, type SelftestReport, summarise } from './selftest-report.ts';

export const DEFAULT_MODEM_PATH = '/dev/lte-at';
const THROTTLED_SYSFS = '/sys/devices/platform/soc/soc:firmware/get_throttled';

/** Environment probes shared by both modes; tests replace them. */
export interface SelftestEnv {
  sleep: Sleep;
  patternMs: number;
  nowMs: () => number;
  pcscdSocket: string;
  probePcscd: PcscdProbe;
  /** Raw throttling flags, or undefined when this is not a Pi. */
  readThrottled: () => Promise<string | undefined>;
  /** HTTP status of a GET to the back end (rejects when unreachable). */
  probeBackend: (url: string) => Promise<number>;
  modemPath: string;
  /** Opens the modem's AT port; undefined when the port does not exist. */
  openModem: (path: string) => Promise<{ port: AtPort; close(): Promise<void> } | undefined>;
}

export async function readThrottledDefault(): Promise<string | undefined> {
  try {
    return readFileSync(THROTTLED_SYSFS, 'utf8').trim();
  } catch {
    // not exposed (older firmware driver) or not a Pi: ask the firmware tool
  }
  try {
    const { stdout } = await promisify(execFile)('vcgencmd', ['get_throttled'], { timeout: 3000 });
    return stdout.trim();
  } catch {
    return undefined;
  }
}

export async function probeBackendDefault(url: string): Promise<number> {
  // The back end's health route (docs/backend-api.md); any HTTP answer proves reachability.
  const res = await fetch(`${url.replace(/\/+$/, '')}/v1/health`, { method: 'GET', signal: AbortSignal.timeout(5000) });
  await res.body?.cancel();
  return res.status;
}

export async function openModemDefault(path: string): Promise<{ port: AtPort; close(): Promise<void> } | undefined> {
  if (!existsSync(path)) return undefined;
  const { AtModem } = await import('../../../drivers/modem/at-modem.ts');
  const modem = new AtModem({ path, baudRate: 115200, commandTimeoutMs: 2000 });
  await modem.open();
  return { port: modem, close: () => modem.close() };
}

export function defaultSelftestEnv(overrides: Partial<SelftestEnv> = {}): SelftestEnv {
  return {
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    patternMs: 600,
    nowMs: Date.now,
    pcscdSocket: defaultPcscdSocketPath(),
    probePcscd: probePcscdSocket,
    readThrottled: readThrottledDefault,
    probeBackend: probeBackendDefault,
    modemPath: DEFAULT_MODEM_PATH,
    openModem: openModemDefault,
    ...overrides,
  };
}

async function modemCheck(env: SelftestEnv): Promise<SelftestCheck> {
  let opened: Awaited<ReturnType<SelftestEnv['openModem']>>;
  try {
    opened = await env.openModem(env.modemPath);
  } catch (e) {
    return { name: 'modem', ok: false, fatal: false, detail: `cannot open ${env.modemPath}: ${(e as Error).message}` };
  }
  try {
    return await checkModem(env.modemPath, opened?.port);
  } finally {
    await opened?.close();
  }
}

/** What both modes inspect, however they got it. */
export interface SelftestParts {
  cfg: BoxConfig;
  indicator: () => Promise<SelftestCheck>;
  scanner: () => Promise<SelftestCheck>;
  nfcReaders?: () => Promise<string[]>;
  journalIntegrity: () => string | undefined;
  clock: () => { view: { lowerMs: number; upperMs: number }; trusted: boolean };
  store: KeyStore;
  provider: CryptoProvider;
}

export async function runSelftest(parts: SelftestParts, mode: SelftestReport['mode'], env: SelftestEnv): Promise<SelftestReport> {
  const { cfg } = parts;
  const stateDir = resolve(cfg.stateDir);
  const nowMs = env.nowMs();
  const checks: SelftestCheck[] = [];
  checks.push(...(await guarded('indicator', true, parts.indicator)));
  checks.push(...(await guarded('scanner', true, parts.scanner)));
  const nfc = cfg.nfc;
  if (nfc?.enabled && nfc.reader !== 'pcsc') {
    checks.push({ name: 'nfc', ok: true, fatal: false, simulated: true, detail: `${nfc.reader} NFC reader (simulated)${nfc.reader === 'sim' ? ` on ${nfc.socket}` : ''}` });
  } else if (nfc && !nfc.enabled) {
    checks.push({ name: 'nfc', ok: true, fatal: false, detail: 'NFC not enabled in the config (QR payments only)' });
  } else {
    checks.push(...(await guarded('nfc', false, () => checkNfc(env.pcscdSocket, env.probePcscd, parts.nfcReaders))));
  }
  checks.push(...(await guarded('modem', false, () => modemCheck(env))));
  checks.push(...(await guarded('journal', true, () => checkStorage(stateDir, parts.journalIntegrity, cfg.journal.lowDiskMb * 1048576))));
  checks.push(
    ...(await guarded('clock', false, () => {
      const c = parts.clock();
      return checkClock(c.view, c.trusted);
    })),
  );
  checks.push(
    ...(await guarded('keys', true, () =>
      checkKeys(
        () => {
          const { identity } = loadProvisioned(parts.store, parts.provider, Math.floor(nowMs / 1000));
          return { serial: identity.ownCard.serial, notAfterSec: identity.ownCard.notAfter, merchantId: identity.merchantId };
        },
        nowMs,
      ),
    )),
  );
  checks.push(...(await guarded('backend', false, () => checkBackend(cfg.sync?.backendUrl ?? readBackendPin(parts.store)?.url, env.probeBackend))));
  checks.push(...(await guarded('power', false, async () => checkPower(await env.readThrottled()))));
  return summarise(checks, mode, nowMs);
}

/** The running box's parts, for the control socket's `selftest` request. */
export interface LiveParts {
  cfg: BoxConfig;
  indicator: Indicator;
  scannerStatus: () => ScannerStatus | undefined;
  scannerLines: () => number;
  journalIntegrity: () => string;
  clock: { view(): { lowerMs: number; upperMs: number }; trusted(): boolean };
  store: KeyStore;
  provider: CryptoProvider;
  log: Log;
  /** Reader names from the box's NFC service, when it runs one. */
  nfcReaders?: () => Promise<string[]>;
}

export async function serviceSelftest(live: LiveParts, env: SelftestEnv): Promise<SelftestReport> {
  return runSelftest(
    {
      cfg: live.cfg,
      indicator: () => checkIndicator(live.indicator, live.cfg.indicator.kind, env.patternMs, env.sleep),
      scanner: async () => checkScannerLive(live.cfg.scanner.kind, live.scannerStatus(), live.scannerLines()),
      journalIntegrity: live.journalIntegrity,
      clock: () => ({ view: live.clock.view(), trusted: live.clock.trusted() }),
      store: live.store,
      provider: live.provider,
      ...(live.nfcReaders ? { nfcReaders: live.nfcReaders } : {}),
    },
    'service',
    env,
  );
}
