/**
 * Section 1: one full decide() of a valid static-flow code per provider, against the raw
 * node:crypto floor of bench/floor.ts (HPKE open + two Ed25519 verifies, wallet key imported fresh).
 */
import { nobleProvider } from '../device/core/crypto/noble.ts';
import type { CryptoProvider } from '../device/core/crypto/provider.ts';
import { type DecisionInput, decide } from '../device/core/decide.ts';
import { DEFAULT_POLICY } from '../device/core/views.ts';
import { createNodeProvider } from '../device/crypto/node-provider.ts';
import { buildScanFixture, measureCryptoFloor, type ScanTiming } from './floor.ts';
import { BENCH_NOW_MS, type CodeFactory, fixedAmount, freshRevocations } from './codes.ts';
import { median, type Summary, summarize, usSince } from './stats.ts';
import { makeWorld } from '../test/support/world.ts';

export interface DecideResult {
  node: Summary;
  noble: Summary;
  /** The floor as the median over rounds interleaved with the node runs. */
  floor: { medianUs: number; p99Us: number; perSecond: number; rounds: number };
  /** Bytes of one signed debit record (the journal bench writes rows of this size). */
  recordBytes: number;
}

function decisionInput(p: CryptoProvider): DecisionInput {
  const w = makeWorld(p); // same seeds as the code factory's world: same keys, this provider's key objects
  return {
    text: '',
    keys: w.keysOf(w.shopA, 0),
    issuers: { get: (k) => w.issuers.get(k) },
    revocations: freshRevocations,
    // Every code has a fresh counter; a replay view that declines nothing keeps the loop on the accept path.
    replay: { has: () => false, unsyncedSpend: () => 0 },
    amount: fixedAmount,
    clock: { lowerMs: BENCH_NOW_MS, upperMs: BENCH_NOW_MS + 60_000 },
    policy: DEFAULT_POLICY,
  };
}

/** Times decide() on each code once; throws if one does not accept (the bench would measure the wrong path). */
function timeDecide(p: CryptoProvider, input: DecisionInput, codes: readonly string[], samples: number[]): { wallUs: number; recordBytes: number } {
  let recordBytes = 0;
  const start = process.hrtime.bigint();
  for (const text of codes) {
    input.text = text;
    const t0 = process.hrtime.bigint();
    const d = decide(p, input);
    samples.push(usSince(t0));
    if (d.kind !== 'accept') throw new Error(`bench.decide: expected accept on ${p.name}, got ${d.code} (${d.detail})`);
    recordBytes = d.record.length;
  }
  return { wallUs: usSince(start), recordBytes };
}

export function runDecideBench(factory: CodeFactory, nodeIterations: number, nobleIterations: number, rounds: number): DecideResult {
  const node = createNodeProvider();
  const nodeInput = decisionInput(node);
  const fixture = buildScanFixture();

  // Warm both paths, then alternate floor and core in rounds so both see the same machine noise.
  timeDecide(node, nodeInput, factory.codes(300), []);
  measureCryptoFloor(300, fixture);
  const nodeSamples: number[] = [];
  const floorRounds: ScanTiming[] = [];
  let nodeWallUs = 0;
  let recordBytes = 0;
  for (let r = 0; r < rounds; r++) {
    const perRound = Math.floor(((r + 1) * nodeIterations) / rounds) - Math.floor((r * nodeIterations) / rounds);
    floorRounds.push(measureCryptoFloor(perRound, fixture));
    const t = timeDecide(node, nodeInput, factory.codes(perRound), nodeSamples);
    nodeWallUs += t.wallUs;
    recordBytes = t.recordBytes;
  }

  const nobleInput = decisionInput(nobleProvider);
  timeDecide(nobleProvider, nobleInput, factory.codes(Math.min(30, nobleIterations)), []);
  const nobleSamples: number[] = [];
  const nobleWall = timeDecide(nobleProvider, nobleInput, factory.codes(nobleIterations), nobleSamples).wallUs;

  return {
    node: summarize(nodeSamples, nodeWallUs),
    noble: summarize(nobleSamples, nobleWall),
    floor: {
      medianUs: median(floorRounds.map((f) => f.medianUs)),
      p99Us: median(floorRounds.map((f) => f.p99Us)),
      perSecond: Math.round(median(floorRounds.map((f) => f.perSecond))),
      rounds,
    },
    recordBytes,
  };
}
