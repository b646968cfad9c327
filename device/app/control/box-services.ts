/**
 * What the running box adds around its payment path for deployment: the control socket
 * (status, self-test, pattern), sd_notify readiness and the watchdog fed by a periodic driver
 * liveness check. Started last by startBox, stopped first by box.stop().
 *
 * Liveness (INVARIANT): the scanner heartbeat beats from a timer that asks the driver for its
 * state and counters, never from scans: a quiet shop is healthy. The driver is alive while it is
 * connected or running its reconnect loop; `disconnected` only follows close(), so a running box
 * that sees it has lost its driver, and the heartbeat stops.
 */
import type { Log } from '../../../drivers/common/log.ts';
import type { Indicator, Pattern } from '../../../drivers/indicator/types.ts';
import type { Scanner, ScannerStatus } from '../../../drivers/scanner/types.ts';
import type { CryptoProvider } from '../../core/crypto/provider.ts';
import type { IdentityCard } from '../../core/protocol/card.ts';
import type { Journal } from '../../journal/types.ts';
import type { KeyStore } from '../../keys/types.ts';
import type { BoxClock } from '../clock.ts';
import type { BoxConfig } from '../config.ts';
import { defaultSelftestEnv, type SelftestEnv, serviceSelftest } from '../commands/selftest.ts';
import { createNotifier, type Notifier } from '../sd-notify.ts';
import { createWatchdog, nodeTimers, type WatchdogSupervisor } from '../watchdog.ts';
import { controlSocketPath } from './protocol.ts';
import { startControlServer } from './server.ts';
import { buildStatus } from './status.ts';

export interface BoxServicesDeps {
  cfg: BoxConfig;
  log: Log;
  journal: Journal;
  clock: BoxClock;
  indicator: Indicator;
  scanner: Scanner;
  card: IdentityCard;
  store: KeyStore;
  provider: CryptoProvider;
  /** Default process.env (NOTIFY_SOCKET, WATCHDOG_USEC). */
  env?: Record<string, string | undefined>;
  notifier?: Notifier;
  /** NFC status for `scanner status`, when the box runs a reader. */
  nfcStatus?: () => unknown;
  selftestEnv?: Partial<SelftestEnv>;
}

export interface BoxServices {
  readonly notifier: Notifier;
  readonly watchdog: WatchdogSupervisor | undefined;
  readonly socketPath: string;
  /** STOPPING=1, stop pinging, close the control socket. */
  stop(): Promise<void>;
}

function nfcReadersOf(status: () => unknown): () => Promise<string[]> {
  return async () => {
    const readers = (status() as { readers?: unknown } | undefined)?.readers;
    return Array.isArray(readers) ? readers.filter((r): r is string => typeof r === 'string') : [];
  };
}

export async function startBoxServices(d: BoxServicesDeps): Promise<BoxServices> {
  const { cfg, log } = d;
  // open() resolved, so the driver is connected until it says otherwise.
  let scannerStatus: ScannerStatus = { state: 'connected', attempt: 0 };
  const offStatus = d.scanner.onStatus((s) => {
    scannerStatus = s;
  });

  const socketPath = controlSocketPath(cfg);
  const notifier = d.notifier ?? createNotifier({ env: d.env ?? process.env, log });
  let watchdog: WatchdogSupervisor | undefined;
  let livenessTimer: ReturnType<typeof setInterval> | undefined;
  const interval = notifier.watchdogIntervalMs;
  if (interval !== undefined) {
    watchdog = createWatchdog({ notifier, pingIntervalMs: interval, maxLagMs: Math.max(100, Math.floor(interval / 2)), now: () => performance.now(), timers: nodeTimers, log });
    const checkEveryMs = Math.max(50, Math.min(5000, Math.floor(interval / 2)));
    const heartbeat = watchdog.register('scanner', Math.max(checkEveryMs * 3, interval * 2));
    livenessTimer = setInterval(() => {
      try {
        d.scanner.stats(); // a driver whose state is corrupt throws here, and the beat is skipped
      } catch {
        return;
      }
      if (scannerStatus.state !== 'disconnected') heartbeat.beat();
    }, checkEveryMs);
    livenessTimer.unref();
  }

  const selftestEnv = defaultSelftestEnv(d.selftestEnv);
  // INVARIANT: one self-test at a time; a second request waits for the first (they share the indicator).
  let selftestRunning: Promise<unknown> = Promise.resolve();
  const control = await startControlServer({
    path: socketPath,
    log,
    handle: async (req) => {
      switch (req.cmd) {
        case 'status':
          return buildStatus({
            journal: d.journal,
            clock: d.clock,
            timezone: cfg.timezone,
            card: d.card,
            scanner: () => ({
              kind: cfg.scanner.kind,
              state: scannerStatus.state,
              ...(scannerStatus.detail ? { detail: scannerStatus.detail } : {}),
              stats: d.scanner.stats(),
            }),
            ...(d.nfcStatus ? { nfc: d.nfcStatus } : {}),
            ...(watchdog ? { watchdog: () => watchdog?.check() } : {}),
          });
        case 'selftest': {
          const run = selftestRunning.then(() =>
            serviceSelftest(
              {
                cfg,
                indicator: d.indicator,
                scannerStatus: () => scannerStatus,
                scannerLines: () => d.scanner.stats().lines,
                journalIntegrity: () => d.journal.integrityCheck(),
                clock: d.clock,
                store: d.store,
                provider: d.provider,
                log,
                ...(d.nfcStatus ? { nfcReaders: nfcReadersOf(d.nfcStatus) } : {}),
              },
              selftestEnv,
            ),
          );
          selftestRunning = run.catch(() => undefined);
          return run;
        }
        case 'pattern':
          d.indicator.show(req.pattern as Pattern);
          return { shown: req.pattern };
      }
    },
  });

  notifier.ready();
  watchdog?.start();
  notifier.status(`ready: ${cfg.scanner.kind} scanner, control ${socketPath}`);
  log.info({ event: 'box.services', control: socketPath, sdNotify: notifier.enabled, watchdogMs: interval ?? null }, 'control socket and supervision up');

  return {
    notifier,
    watchdog,
    socketPath,
    async stop() {
      notifier.stopping();
      watchdog?.stop();
      if (livenessTimer) clearInterval(livenessTimer);
      offStatus();
      await control.close();
    },
  };
}
