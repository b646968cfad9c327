/**
 * The pieces of a box as device/app/box.ts wires them (journal in `dir`, Acceptor, an indicator),
 * without config, key files or the TCP simulator: box.ts cannot take an injected scanner or
 * indicator, so the bench builds the Acceptor directly.
 */
import { join } from 'node:path';
import { silentLog } from '../drivers/common/log.ts';
import type { Indicator, Pattern } from '../drivers/indicator/types.ts';
import { Acceptor } from '../device/app/acceptor.ts';
import { BoxClock } from '../device/app/clock.ts';
import type { CryptoProvider } from '../device/core/crypto/provider.ts';
import { DEFAULT_POLICY } from '../device/core/views.ts';
import { openSqliteJournal, type SqliteJournal } from '../device/journal/sqlite-journal.ts';
import type { Journal } from '../device/journal/types.ts';
import { makeWorld } from '../test/support/world.ts';
import { BENCH_NOW_MS, fixedAmount, freshRevocations } from './codes.ts';
import { usSince } from './stats.ts';

/** Records when 'accepted' was shown (hrtime ns) and hands it to one waiting scan. */
export class TimingIndicator implements Indicator {
  lastAcceptedNs = 0n;
  accepted = 0;
  other = 0;
  #waiter: ((ns: bigint) => void) | undefined;

  async open(): Promise<void> {}

  show(pattern: Pattern): void {
    if (pattern !== 'accepted') {
      this.other++;
      return;
    }
    const ns = process.hrtime.bigint();
    this.lastAcceptedNs = ns;
    this.accepted++;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.(ns);
  }

  setBase(_pattern: Pattern): void {}

  async close(): Promise<void> {}

  /** Resolves at the next show('accepted'). */
  nextAccepted(): Promise<bigint> {
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }
}

export interface BenchBox {
  acceptor: Acceptor;
  journal: SqliteJournal;
  indicator: TimingIndicator;
  dbPath: string;
  /** Microseconds of each journal call the Acceptor made, by method name (only when built with `timeJournal`). */
  journalTimings: Map<string, number[]>;
}

/** The journal as the Acceptor sees it, timing every method call (the calls run on the real journal). */
function timedJournal(journal: SqliteJournal, timings: Map<string, number[]>): Journal {
  return new Proxy(journal, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      const samples = timings.get(prop) ?? [];
      timings.set(prop, samples);
      return (...args: unknown[]) => {
        const t0 = process.hrtime.bigint();
        try {
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        } finally {
          samples.push(usSince(t0));
        }
      };
    },
  });
}

/** A fixed clock at the codes' timestamp: freshness holds however long the bench runs. */
function fixedClock(): BoxClock {
  return new BoxClock({ wallNow: () => BENCH_NOW_MS, monoNow: () => 0, loadLastKnownGood: () => undefined, saveLastKnownGood: () => {}, floorMs: BENCH_NOW_MS });
}

export function buildBenchBox(p: CryptoProvider, dir: string, name: string, timeJournal = false): BenchBox {
  const w = makeWorld(p);
  const dbPath = join(dir, `${name}.db`);
  const journal = openSqliteJournal({ path: dbPath });
  const indicator = new TimingIndicator();
  const journalTimings = new Map<string, number[]>();
  const acceptor = new Acceptor({
    p,
    journal: timeJournal ? timedJournal(journal, journalTimings) : journal,
    keys: w.keysOf(w.shopA, 0),
    issuers: w.issuers,
    clock: fixedClock(),
    indicator,
    log: silentLog,
    policy: DEFAULT_POLICY,
    repeatWindowMs: 4000,
    amountSource: () => fixedAmount,
    revocations: () => freshRevocations,
    closeSession: () => {},
  });
  return { acceptor, journal, indicator, dbPath, journalTimings };
}
