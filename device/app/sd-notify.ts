/**
 * sd_notify(3) from the MAIN process, for `Type=notify` + `WatchdogSec=` units.
 *
 * Mechanism (why an addon): systemd accepts a notification only if the datagram's kernel-attached
 * SCM_CREDENTIALS pid is allowed by NotifyAccess=. We run with NotifyAccess=main, so the datagram
 * must come from this very process. Node has no AF_UNIX SOCK_DGRAM sockets, and a
 * `systemd-notify` child sends with its own pid and may exit before PID 1 reads the message, so
 * PID 1 can drop or misattribute it (the race is documented in systemd-notify(1)). A long-lived
 * helper process would need NotifyAccess=all, which lets any process in the cgroup (a wedged
 * worker, a compromised child) feed the watchdog. So we use native/sdnotify, a ~100-line N-API
 * addon with no libsystemd dependency: socket(AF_UNIX, SOCK_DGRAM|SOCK_CLOEXEC) -> sendto(
 * $NOTIFY_SOCKET, '@' = abstract namespace) -> close, exactly what sd_notify() does.
 *
 * The addon is loaded lazily, on the first message, and only when NOTIFY_SOCKET is set; without
 * NOTIFY_SOCKET (dev machine, tests, manual runs) every method is a no-op. A missing addon under
 * systemd is logged once, with the command that builds it, and never throws: the watchdog then
 * kills and restarts the service, which is the visible symptom the log line explains.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Log } from '../../drivers/common/log.ts';

/** What the native addon exports (native/sdnotify/index.d.ts). */
export interface SdNotifyBinding {
  /** Sends one datagram; returns bytes sent; throws an Error whose `code` is the errno name. */
  send(socketPath: string, message: string): number;
}

export interface Notifier {
  /** READY=1: startup finished (config loaded, journal open, drivers opened). */
  ready(): void;
  /** WATCHDOG=1: keep-alive. Call it only while healthy (see watchdog.ts). */
  watchdog(): void;
  /** STATUS=<text>: one line shown by `systemctl status`. */
  status(text: string): void;
  /** STOPPING=1: orderly shutdown has begun. */
  stopping(): void;
  /** NOTIFY_SOCKET is set and the addon has not failed to load. */
  readonly enabled: boolean;
  /**
   * How often to send WATCHDOG=1: half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises.
   * undefined when the unit has no WatchdogSec= or WATCHDOG_PID names another process.
   */
  readonly watchdogIntervalMs: number | undefined;
  /** The full watchdog timeout (WATCHDOG_USEC) in ms, or undefined as above. */
  readonly watchdogTimeoutMs: number | undefined;
}

export interface NotifierOptions {
  env: Record<string, string | undefined>;
  log: Log;
  /** This process's pid, compared with WATCHDOG_PID. Default process.pid. */
  pid?: number;
  /** Loads the addon. Default: the `qrpay-sdnotify` package, then the in-repo build. */
  loadBinding?: () => SdNotifyBinding;
}

export const SDNOTIFY_BUILD_HINT =
  'build it with `npm run build` in native/sdnotify (or `npm rebuild qrpay-sdnotify`); needs python3, make, g++ and the Node headers in /usr/include/node (the NodeSource nodejs package ships them; with the Debian nodejs package install libnode-dev)';

const STATUS_MAX = 200;

/** Parses WATCHDOG_USEC / WATCHDOG_PID the way sd_watchdog_enabled(3) does. */
export function parseWatchdogEnv(
  env: Record<string, string | undefined>,
  pid: number,
): { timeoutMs: number; intervalMs: number } | undefined {
  const usecText = env['WATCHDOG_USEC'];
  if (usecText === undefined || !/^[0-9]+$/.test(usecText)) return undefined;
  const usec = Number(usecText);
  if (!Number.isSafeInteger(usec) || usec <= 0) return undefined;
  const pidText = env['WATCHDOG_PID'];
  if (pidText !== undefined && pidText !== '' && Number(pidText) !== pid) return undefined;
  const timeoutMs = usec / 1000;
  return { timeoutMs, intervalMs: Math.max(1, Math.floor(timeoutMs / 2)) };
}

/** Default loader: the installed package first, then the build inside this repository. */
export function loadSdNotifyBinding(): SdNotifyBinding {
  const require = createRequire(import.meta.url);
  try {
    return require('qrpay-sdnotify') as SdNotifyBinding;
  } catch (e) {
    if ((e as { code?: string }).code !== 'MODULE_NOT_FOUND') throw e;
  }
  const inRepo = fileURLToPath(new URL('../../native/sdnotify/build/Release/sdnotify.node', import.meta.url));
  return require(inRepo) as SdNotifyBinding;
}

export function createNotifier(options: NotifierOptions): Notifier {
  const { env, log } = options;
  const socketPath = env['NOTIFY_SOCKET'] || undefined;
  const wd = parseWatchdogEnv(env, options.pid ?? process.pid);
  const loadBinding = options.loadBinding ?? loadSdNotifyBinding;
  let binding: SdNotifyBinding | undefined;
  let loadFailed = false;
  let sendFailures = 0;

  if (socketPath !== undefined && !socketPath.startsWith('/') && !socketPath.startsWith('@')) {
    log.error(
      { code: 'SD_NOTIFY_BAD_SOCKET', socket: socketPath },
      `sdNotify.createNotifier: NOTIFY_SOCKET must start with '/' or '@', got ${JSON.stringify(socketPath)}; notifications disabled`,
    );
    loadFailed = true;
  }

  function getBinding(): SdNotifyBinding | undefined {
    if (binding !== undefined || loadFailed) return binding;
    try {
      binding = loadBinding();
    } catch (e) {
      loadFailed = true;
      log.error(
        { code: 'SD_NOTIFY_ADDON_MISSING', socket: socketPath, err: (e as Error).message },
        `sdNotify: NOTIFY_SOCKET is set but the qrpay-sdnotify addon could not be loaded; READY=1 and WATCHDOG=1 will not reach systemd, so the unit will time out or be killed by its watchdog. Fix: ${SDNOTIFY_BUILD_HINT}`,
      );
    }
    return binding;
  }

  function send(message: string): void {
    if (socketPath === undefined) return;
    const b = getBinding();
    if (b === undefined) return;
    try {
      b.send(socketPath, message);
      if (sendFailures > 0) {
        log.info({ code: 'SD_NOTIFY_RECOVERED', failures: sendFailures }, 'sdNotify: sending works again');
        sendFailures = 0;
      }
    } catch (e) {
      sendFailures++;
      // Log the first failure and then every 100th: a ping every few seconds must not flood the SD card.
      if (sendFailures === 1 || sendFailures % 100 === 0) {
        log.warn(
          { code: 'SD_NOTIFY_FAILED', socket: socketPath, errno: (e as { code?: string }).code, failures: sendFailures },
          `sdNotify.send: ${JSON.stringify(message.split('=')[0])} to ${socketPath} failed: ${(e as Error).message}`,
        );
      }
    }
  }

  return {
    ready: () => send('READY=1'),
    watchdog: () => send('WATCHDOG=1'),
    stopping: () => send('STOPPING=1'),
    status(text: string) {
      const line = text.replace(/[\r\n]+/g, ' ').slice(0, STATUS_MAX);
      send(`STATUS=${line}`);
    },
    get enabled() {
      return socketPath !== undefined && !loadFailed;
    },
    watchdogIntervalMs: wd?.intervalMs,
    watchdogTimeoutMs: wd?.timeoutMs,
  };
}
