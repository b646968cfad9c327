/**
 * The reconciliation loop. Every `intervalMs` (or at once after `kick()`):
 *   link check -> (link up) signed time -> revocations -> upload -> updates
 *   (-> revocations once more when the updates brought a new issuer key: the list it signed failed above)
 * and afterwards the indicator base pattern: 'offline-backlog' while a debit has waited longer
 * than `backlogAlertMs` for its ack, 'ready' once the backlog clears.
 *
 * A modem network time (NITZ) is only a hint: it is handed to `onNetworkTime` (which may narrow
 * the clock bounds) and never reaches `applySignedTime`, so it cannot move last-known-good.
 *
 * INVARIANTS
 * - At most one round runs at a time; `kick()` during a round runs one more round after it.
 * - Each step fails on its own (logged with its code); a failed step never skips the upload.
 * - `stop()` cancels the timer and any backoff wait, then waits for the running round.
 */
import type { Log } from '../../drivers/common/log.ts';
import { silentLog } from '../../drivers/common/log.ts';
import type { Pattern } from '../../drivers/indicator/types.ts';
import type { Connectivity, LinkState } from '../../drivers/modem/types.ts';
import { isBoxError } from '../core/errors.ts';
import type { Journal } from '../journal/types.ts';
import type { SyncTimers } from './backoff.ts';
import type { Revocations, Updates } from './client.ts';
import { type BundleStore, applyUpdates, type RevocationOutcome, storeRevocations, type UpdatesOutcome } from './downloads.ts';
import type { RunResult, Uploader } from './uploader.ts';

export interface SyncApi {
  signedTime(): Promise<number>;
  revocations(): Promise<Revocations>;
  updates(): Promise<Updates>;
}

export interface SyncServiceOptions {
  connectivity: Connectivity;
  api: SyncApi;
  uploader: Uploader;
  journal: Journal;
  bundles: BundleStore;
  clock: { applySignedTime(ms: number): void; nowMs(): number };
  indicator: { setBase(p: Pattern): void };
  intervalMs: number;
  backlogAlertMs: number;
  timers: SyncTimers;
  log?: Log;
  onNetworkTime?: (ms: number) => void;
}

export interface RoundReport {
  link: LinkState;
  time?: 'applied' | string;
  revocations?: RevocationOutcome | string;
  upload?: RunResult;
  updates?: UpdatesOutcome | string;
  backlog: { count: number; oldestAgeMs: number | undefined; alert: boolean };
}

export class SyncService {
  private readonly log: Log;
  private timer: unknown;
  private current: Promise<RoundReport> | null = null;
  private again = false;
  private stopped = true;
  private base: Pattern | undefined;
  last: RoundReport | undefined;

  constructor(private readonly o: SyncServiceOptions) {
    this.log = o.log ?? silentLog;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.o.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.o.uploader.stop();
    await this.current?.catch(() => undefined);
  }

  /** Run a round soon (e.g. after a payment when the link is known to be up). */
  kick(): void {
    if (this.stopped) return;
    if (this.current) this.again = true;
    else this.schedule(0);
  }

  /** One round; never rejects. */
  runOnce(): Promise<RoundReport> {
    if (this.current) return this.current;
    this.current = this.round().finally(() => {
      this.current = null;
    });
    return this.current;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer !== undefined) this.o.timers.clearTimeout(this.timer);
    this.timer = this.o.timers.setTimeout(() => {
      this.timer = undefined;
      void this.runOnce()
        // round() guards its steps, but a throwing hook (onNetworkTime -> clock persist, indicator) must
        // neither become an unhandled rejection (which ends the process) nor stop the schedule.
        .catch((e: unknown) => this.log.error({ event: 'sync.round-failed', code: codeOf(e) }, `sync round failed: ${(e as Error)?.message ?? String(e)}`))
        .then(() => {
          const next = this.again ? 0 : this.o.intervalMs;
          this.again = false;
          this.schedule(next);
        });
    }, ms);
  }

  private async round(): Promise<RoundReport> {
    const { o, log } = this;
    const link = await o.connectivity.check().catch((e: unknown): LinkState => ({ up: false, source: 'fake', code: codeOf(e) }));
    const report: RoundReport = { link, backlog: { count: 0, oldestAgeMs: undefined, alert: false } };
    if (link.networkTimeMs !== undefined) o.onNetworkTime?.(link.networkTimeMs);
    if (link.up) {
      report.time = await step('time', log, async () => {
        o.clock.applySignedTime(await o.api.signedTime());
        return 'applied';
      });
      report.revocations = await step('revocations', log, async () => storeRevocations(o.journal, await o.api.revocations(), log));
      report.upload = await o.uploader.run();
      report.updates = await step('updates', log, async () => applyUpdates(o.journal, o.bundles, await o.api.updates(), log));
      // A list signed by an issuer key that just rolled over failed above; it verifies now.
      if (typeof report.revocations === 'string' && typeof report.updates === 'object' && report.updates.rollovers.applied.some((r) => r.role === 'issuer')) {
        report.revocations = await step('revocations', log, async () => storeRevocations(o.journal, await o.api.revocations(), log));
      }
    } else {
      log.debug({ event: 'sync.link-down', code: link.code, source: link.source }, 'link down; nothing sent');
    }
    report.backlog = this.updateIndicator();
    this.last = report;
    this.recordLastSync(report);
    return report;
  }

  /** For `scanner status`: meta 'sync.last' = {atMs, ok, linkUp, code?} (read by device/app/control/status.ts). */
  private recordLastSync(r: RoundReport): void {
    const ok = r.link.up && r.upload?.outcome !== 'failed';
    try {
      this.o.journal.setMeta('sync.last', { atMs: this.o.clock.nowMs(), ok, linkUp: r.link.up, ...(r.link.code ? { code: r.link.code } : {}) });
    } catch (e) {
      this.log.warn({ event: 'sync.meta-failed', code: codeOf(e) }, 'cannot record the last sync');
    }
  }

  private updateIndicator(): RoundReport['backlog'] {
    let b: { count: number; oldestAcceptedAtMs: number | undefined };
    try {
      b = this.o.uploader.backlog();
    } catch (e) {
      this.log.warn({ event: 'sync.backlog-failed', code: codeOf(e) }, 'cannot read the backlog');
      return { count: 0, oldestAgeMs: undefined, alert: false };
    }
    const age = b.oldestAcceptedAtMs === undefined ? undefined : this.o.clock.nowMs() - b.oldestAcceptedAtMs;
    const alert = age !== undefined && age > this.o.backlogAlertMs;
    const want: Pattern = alert ? 'offline-backlog' : 'ready';
    if (want !== this.base) {
      this.base = want;
      this.o.indicator.setBase(want);
      this.log.info({ event: 'sync.backlog', alert, count: b.count, oldestAgeMs: age }, alert ? 'debits wait too long for the acquirer' : 'backlog clear');
    }
    return { count: b.count, oldestAgeMs: age, alert };
  }
}

function codeOf(e: unknown): string {
  return isBoxError(e) ? e.code : 'SYNC_INTERNAL';
}

async function step<T>(name: string, log: Log, fn: () => Promise<T>): Promise<T | string> {
  try {
    return await fn();
  } catch (e) {
    const code = codeOf(e);
    log.warn({ event: 'sync.step-failed', step: name, code }, `${name}: ${(e as Error)?.message ?? String(e)}`);
    return code;
  }
}
