/**
 * Crash safety of the built box: a burst of 60 distinct payment codes over the simulated TCP
 * scanner while the box is SIGKILLed at random moments (during start-up, mid-burst, mid-commit)
 * at least 20 times and restarted after each kill. Unacknowledged codes are shown again after
 * each restart, as a customer would. At the end:
 *   - every debit the box acknowledged (its 'scan.accept' line) is in the journal exactly once;
 *   - no debit was acknowledged twice as a new payment (a replayed code only repeats or declines
 *     REPLAYED);
 *   - the journal holds exactly one debit per code, keyed by (walletKey, counter), no duplicates;
 *   - PRAGMA integrity_check is 'ok'.
 * Set HIL_SEED to replay a run; the seed is printed on failure.
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoxProcess, type DemoPayer, demoPayer, ensureBuilt, readJournal, tcpSimPort } from '../support/box-process.ts';
import { type HilLayout, writeHilConfig } from '../support/hil-config.ts';

const CODES = 60;
const MIN_KILLS = 20;
const PRICE_MINOR = 100;
const MIN_PER_ROUND = 3;

/** mulberry32: a small seeded PRNG so a failing run can be replayed with HIL_SEED. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function connectTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

const VERDICTS = new Set(['scan.accept', 'scan.decline', 'scan.repeat']);

describe('box under SIGKILL during a burst of payments', () => {
  const seed = Number(process.env['HIL_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
  const random = rng(seed);
  let layout: HilLayout;
  let box: BoxProcess | undefined;

  beforeAll(() => {
    ensureBuilt();
    layout = writeHilConfig({ scanner: { kind: 'tcp-sim' }, logLevel: 'debug' });
  }, 120_000);

  afterAll(async () => {
    await box?.stop();
    layout?.cleanup();
  });

  it(`keeps every acknowledged debit exactly once across ${MIN_KILLS}+ random kills (seed in the message on failure)`, async () => {
    const ctx = `seed ${seed} (rerun with HIL_SEED=${seed})`;
    // First start provisions the demo merchant and wallet.
    box = await BoxProcess.start(layout.configPath, { readyTimeoutMs: 45_000 });
    const payer: DemoPayer = demoPayer(layout.walletPath, layout.cardPath);
    const codes = new Map<number, string>();
    for (let i = 0; i < CODES; i++) {
      const { text, counter } = payer.pay(PRICE_MINOR);
      codes.set(counter, text);
    }
    const counterOf = new Map([...codes.keys()].map((c) => [payer.debitId(c), c]));
    await box.kill('SIGKILL');

    /** debitId -> how many 'scan.accept' lines named it, over all runs. */
    const acceptedLines = new Map<string, number>();
    const unacknowledged = new Set(codes.keys());
    let kills = 0;
    let startupKills = 0;
    let ackedBeforeKill = 0;
    const record = (b: BoxProcess) => {
      for (const l of b.events('scan.accept')) {
        const id = String(l['debitId']);
        acceptedLines.set(id, (acceptedLines.get(id) ?? 0) + 1);
        const c = counterOf.get(id);
        expect(c, `${ctx}: box accepted a debit ${id} that none of our codes makes`).toBeDefined();
        unacknowledged.delete(c!);
      }
    };

    while (kills < MIN_KILLS) {
      box = await BoxProcess.start(layout.configPath, { waitReady: false });
      if (random() < 0.25) {
        // Kill somewhere in start-up: journal open/recovery, migrations, provisioning, scanner open.
        await sleep(Math.floor(random() * 400));
        startupKills++;
      } else {
        await box.waitForEvent('box.ready', undefined, 45_000);
        const port = await tcpSimPort(box);
        const socket = await connectTo(port);
        socket.on('error', () => {}); // the box dies under it
        // A few codes per round, so the kills land all through the burst (60 codes over 20+ lives).
        const perRound = Math.max(MIN_PER_ROUND, Math.ceil(unacknowledged.size / Math.max(1, MIN_KILLS - kills)) + 1);
        const toSend = [...unacknowledged].slice(0, perRound).map((c) => codes.get(c)!);
        const killAfterMs = Math.floor(random() * 120);
        const t0 = Date.now();
        for (const text of toSend) {
          if (Date.now() - t0 >= killAfterMs) break;
          socket.write(`${text}\n`);
          await sleep(Math.floor(random() * 25));
        }
        const left = killAfterMs - (Date.now() - t0);
        if (left > 0) await sleep(left);
        socket.destroy();
      }
      await box.kill('SIGKILL');
      kills++;
      const before = unacknowledged.size;
      record(box);
      ackedBeforeKill += before - unacknowledged.size;
    }

    // Last run, no kill: show every code not yet acknowledged, one at a time, and read its verdict.
    box = await BoxProcess.start(layout.configPath, { readyTimeoutMs: 45_000 });
    const port = await tcpSimPort(box);
    const socket = await connectTo(port);
    const finalVerdicts: { counter: number; event: string; code?: unknown; of?: unknown }[] = [];
    for (const counter of [...unacknowledged]) {
      const from = box.logs.length;
      socket.write(`${codes.get(counter)!}\n`);
      const v = await box.waitFor((l) => VERDICTS.has(l.event ?? ''), 20_000, from, `verdict for counter ${counter}`);
      finalVerdicts.push({ counter, event: v.event!, code: v['code'], of: v['of'] });
    }
    socket.destroy();
    record(box);
    await box.stop();
    const j = readJournal(layout.journalPath);

    const summary = `${ctx}: kills ${kills} (${startupKills} in start-up), acknowledged before a kill ${ackedBeforeKill}, final verdicts ${JSON.stringify(finalVerdicts.map((v) => `${v.counter}:${v.event}${v.code ? `/${v.code}` : ''}`))}`;
    if (process.env["HIL_VERBOSE"]) console.log(summary);
    expect(kills, summary).toBeGreaterThanOrEqual(MIN_KILLS);
    expect(ackedBeforeKill, `${summary}: the kills never caught acknowledged payments`).toBeGreaterThan(0);
    // A code the journal already holds may only repeat its outcome or be declined as a replay.
    for (const v of finalVerdicts) {
      if (v.event === 'scan.decline') expect(v.code, summary).toBe('REPLAYED');
      // A repeat is of an earlier verdict on this very code: its acceptance, or a replay decline after a crash.
      if (v.event === 'scan.repeat' && v.of !== 'accept') expect(v.code, summary).toBe('REPLAYED');
    }
    // Never two fresh acceptances of one payment.
    for (const [id, n] of acceptedLines) expect(n, `${summary}: debit ${id} accepted ${n} times`).toBe(1);
    // Every acknowledged debit is durable, exactly once.
    const inJournal = new Map<string, number>();
    for (const d of j.debits) inJournal.set(d.debitId, (inJournal.get(d.debitId) ?? 0) + 1);
    for (const id of acceptedLines.keys()) expect(inJournal.get(id), `${summary}: acknowledged ${id} not in the journal once`).toBe(1);
    // Each code paid exactly once: one row per counter, the box's debit id for it, no duplicate keys.
    expect(j.duplicates, summary).toEqual([]);
    expect(j.debits.map((d) => d.counter).sort((a, b) => a - b), summary).toEqual([...codes.keys()].sort((a, b) => a - b));
    for (const d of j.debits) {
      expect(d.walletKey).toBe(payer.walletKey);
      expect(d.debitId).toBe(payer.debitId(d.counter));
      expect(d.amount).toBe(PRICE_MINOR);
    }
    expect(j.integrity, summary).toBe('ok');
  }, 180_000);
});
