/**
 * Watchdog supervisor: sends WATCHDOG=1 every WatchdogSec/2, but ONLY while the process is healthy,
 * so systemd restarts a box that is alive but wedged (not just one that crashed).
 *
 * Healthy means both:
 *  - event-loop lag below `maxLagMs`, measured by a timer drift probe: a `probeMs` interval that
 *    records how late each tick fires. A drift probe (not perf_hooks.monitorEventLoopDelay) because
 *    it runs on the injected timers and clock, so fake-timer tests exercise the real code path;
 *  - every registered heartbeat (`register(name, maxSilenceMs).beat()`) seen within its bound.
 *    Drivers beat from their own idle loop (a serial read timeout, a pcsc status poll, a modem
 *    AT+CSQ), never from scans: a shop with no customers for an hour is healthy.
 *
 * A fully blocked loop sends nothing by construction. The probe catches the partial wedge: a loop
 * that runs timers between multi-second blocks (sync I/O on a dying SD card, a runaway parse).
 *
 * When it turns unhealthy it stops pinging and logs once why (code WATCHDOG_LAG or
 * WATCHDOG_HEARTBEAT) and sets STATUS= so `systemctl status` shows the reason; if it recovers
 * before systemd's timeout, pinging resumes and WATCHDOG_RECOVERED is logged once.
 */
import type { Log } from '../../drivers/common/log.ts';

export interface WatchdogTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/** Real timers, unref'd so the supervisor never keeps a finished process alive. */
export const nodeTimers: WatchdogTimers = {
  setInterval(fn, ms) {
    const h = setInterval(fn, ms);
    h.unref();
    return h;
  },
  clearInterval(handle) {
    clearInterval(handle as ReturnType<typeof setInterval>);
  },
};

export interface WatchdogOptions {
  /** Receives WATCHDOG=1 and STATUS= (a Notifier from sd-notify.ts). */
  notifier: { watchdog(): void; status(text: string): void };
  /** Ping period: Notifier.watchdogIntervalMs (half of WatchdogSec). */
  pingIntervalMs: number;
  /** Largest tolerated event-loop lag. Keep it well below pingIntervalMs. */
  maxLagMs: number;
  /** Drift probe period. Default min(250, maxLagMs / 2). */
  probeMs?: number;
  now: () => number;
  timers: WatchdogTimers;
  log: Log;
}

export interface Heartbeat {
  beat(): void;
  /** The driver is closed on purpose (e.g. reader unplugged and reported); stop requiring beats. */
  unregister(): void;
}

export type WatchdogVerdict =
  | { healthy: true; lagMs: number }
  | { healthy: false; code: 'WATCHDOG_LAG'; lagMs: number; maxLagMs: number }
  | { healthy: false; code: 'WATCHDOG_HEARTBEAT'; name: string; silentMs: number; maxSilenceMs: number };

export interface WatchdogSupervisor {
  /** A driver heartbeat that must beat at least every `maxSilenceMs`. The clock starts now. */
  register(name: string, maxSilenceMs: number): Heartbeat;
  /** Starts probing and pinging; pings once immediately if healthy. Idempotent. */
  start(): void;
  stop(): void;
  /** The current verdict, without sending anything (for `scanner selftest` and status pages). */
  check(): WatchdogVerdict;
  /** WATCHDOG=1 messages sent so far. */
  readonly pings: number;
}

interface Registration {
  maxSilenceMs: number;
  lastBeat: number;
}

function positive(fn: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new RangeError(`${fn}: expected ${name} positive number, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function createWatchdog(options: WatchdogOptions): WatchdogSupervisor {
  const { notifier, now, timers, log } = options;
  const pingIntervalMs = positive('createWatchdog', 'pingIntervalMs', options.pingIntervalMs);
  const maxLagMs = positive('createWatchdog', 'maxLagMs', options.maxLagMs);
  const probeMs = positive('createWatchdog', 'probeMs', options.probeMs ?? Math.min(250, maxLagMs / 2));

  const registrations = new Map<string, Registration>();
  // INVARIANTS (single-threaded; all mutation happens in timer callbacks or driver beats):
  //  - lastProbeAt is the clock time of the last probe tick (or of start()).
  //  - maxDriftMs is the worst probe lateness since the last ping decision; each decision resets it.
  //  - wedged is true iff the last decision was unhealthy; logs fire only when it flips.
  let lastProbeAt = 0;
  let maxDriftMs = 0;
  let wedged = false;
  let pings = 0;
  let probeHandle: unknown;
  let pingHandle: unknown;

  function probe(): void {
    const t = now();
    const drift = t - lastProbeAt - probeMs;
    if (drift > maxDriftMs) maxDriftMs = drift;
    lastProbeAt = t;
  }

  function currentLag(t: number): number {
    // A probe that is overdue right now is lag too: the ping timer may fire before the probe does.
    return Math.max(0, maxDriftMs, t - lastProbeAt - probeMs);
  }

  function check(): WatchdogVerdict {
    const t = now();
    const lagMs = currentLag(t);
    if (lagMs > maxLagMs) return { healthy: false, code: 'WATCHDOG_LAG', lagMs, maxLagMs };
    for (const [name, r] of registrations) {
      const silentMs = t - r.lastBeat;
      if (silentMs > r.maxSilenceMs) {
        return { healthy: false, code: 'WATCHDOG_HEARTBEAT', name, silentMs, maxSilenceMs: r.maxSilenceMs };
      }
    }
    return { healthy: true, lagMs };
  }

  function decide(): void {
    const verdict = check();
    maxDriftMs = 0;
    if (verdict.healthy) {
      if (wedged) {
        wedged = false;
        log.info({ code: 'WATCHDOG_RECOVERED', lagMs: verdict.lagMs }, 'watchdog: healthy again, resuming WATCHDOG=1');
        notifier.status('running');
      }
      pings++;
      notifier.watchdog();
      return;
    }
    if (wedged) return;
    wedged = true;
    const why =
      verdict.code === 'WATCHDOG_LAG'
        ? `event-loop lag ${Math.round(verdict.lagMs)} ms exceeds ${verdict.maxLagMs} ms`
        : `heartbeat ${JSON.stringify(verdict.name)} silent for ${verdict.silentMs} ms (max ${verdict.maxSilenceMs} ms)`;
    log.error(verdict, `watchdog: ${why}; withholding WATCHDOG=1 so systemd restarts the service`);
    notifier.status(`wedged: ${why}`);
  }

  return {
    register(name, maxSilenceMs) {
      positive('watchdog.register', 'maxSilenceMs', maxSilenceMs);
      if (registrations.has(name)) throw new Error(`watchdog.register: heartbeat ${JSON.stringify(name)} already registered`);
      const r: Registration = { maxSilenceMs, lastBeat: now() };
      registrations.set(name, r);
      return {
        beat() {
          r.lastBeat = now();
        },
        unregister() {
          if (registrations.get(name) === r) registrations.delete(name);
        },
      };
    },
    start() {
      if (pingHandle !== undefined) return;
      lastProbeAt = now();
      maxDriftMs = 0;
      probeHandle = timers.setInterval(probe, probeMs);
      pingHandle = timers.setInterval(decide, pingIntervalMs);
      decide();
    },
    stop() {
      if (pingHandle === undefined) return;
      timers.clearInterval(pingHandle);
      timers.clearInterval(probeHandle);
      pingHandle = undefined;
      probeHandle = undefined;
    },
    check,
    get pings() {
      return pings;
    },
  };
}
