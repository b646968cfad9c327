/**
 * Periodic journal housekeeping: prune settled debits past retention and replay entries whose
 * credential has expired, and warn before the disk fills (SD cards). Prune uses the clock's LOWER
 * bound, so a clock that jumped forward can never delete replay entries early.
 */
import type { Log } from '../../drivers/common/log.ts';
import { diskSpace, lowDiskWarning } from '../journal/storage-safety.ts';
import type { Journal } from '../journal/types.ts';
import type { ClockView } from '../core/views.ts';

export interface HousekeepingDeps {
  journal: Journal;
  stateDir: string;
  clock: () => ClockView;
  log: Log;
  lowDiskBytes: number;
  /** Injected for tests. */
  disk?: (dir: string) => { freeBytes: number; totalBytes: number };
}

export interface HousekeepingResult {
  pruned: { debits: number; replay: number; outcomes: number };
  lowDisk?: string;
}

export function runHousekeeping(d: HousekeepingDeps): HousekeepingResult {
  const pruned = d.journal.prune(Math.floor(d.clock().lowerMs));
  if (pruned.debits + pruned.replay + pruned.outcomes > 0) d.log.info({ event: 'journal.pruned', ...pruned }, 'journal pruned');
  const space = (d.disk ?? diskSpace)(d.stateDir);
  const lowDisk = lowDiskWarning(space, { minFreeBytes: d.lowDiskBytes });
  if (lowDisk) d.log.warn({ event: 'disk.low', code: 'DISK_LOW', freeBytes: space.freeBytes }, lowDisk);
  return lowDisk ? { pruned, lowDisk } : { pruned };
}

/** Runs housekeeping now and then every `intervalMs`; returns a stop function. */
export function startHousekeeping(d: HousekeepingDeps, intervalMs = 3600_000): () => void {
  const tick = () => {
    try {
      runHousekeeping(d);
    } catch (e) {
      d.log.error({ event: 'housekeeping.failed', err: e instanceof Error ? e.message : String(e) }, 'housekeeping failed');
    }
  };
  tick();
  const t = setInterval(tick, intervalMs);
  t.unref();
  return () => clearInterval(t);
}
