/**
 * Reconcile against the REAL back end as a separate process (dist/backend.mjs serve, SQLite file),
 * SIGKILLed mid-batch again and again and restarted on the same database:
 *   - 1500 debits from two wallets funded through the admin API, decided by the real decide() and
 *     committed to a real SQLite journal file, are drained by the real Uploader and SyncClient
 *     (batches of 500) through a transparent TCP relay (test/support/backend-process.ts);
 *   - the back end is SIGKILLed by pid 4 times, at seeded batch requests, at these moments:
 *       request-cut  half of the batch request was handed to the back end (before its commit);
 *       in-hand      the whole request was handed over, then a random 0-250 ms (before or after
 *                    its commit, whichever comes first; the answer never reaches the box);
 *       ack-lost     the back end committed and answered; the relay holds the ack back;
 *     and restarted on the same file (a new port behind the relay). In one seeded round the box
 *     restarts too: the journal is closed and reopened and a fresh Uploader resumes from the outbox.
 * At the end every debit is settled exactly once: the journal holds N settled and nothing pending
 * or uploaded; the back end holds N debits, one ledger transaction each, no counter reuse, no
 * rejection, no flag; `backend ledger check` is balanced; each customer holds start - its debits.
 * Set HIL_SEED to replay a run; the seed is printed on failure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decide } from '../../device/core/decide.ts';
import { fromHex, toHex } from '../../device/core/encoding/bytes.ts';
import { decodeCredential } from '../../device/core/protocol/credential.ts';
import { DEFAULT_POLICY } from '../../device/core/views.ts';
import { type BoxIdentity, loadBoxIdentity } from '../../device/app/box-identity.ts';
import { enrolmentRequest } from '../../device/app/provision.ts';
import { createNodeProvider } from '../../device/crypto/node-provider.ts';
import { openSqliteJournal, type SqliteJournal } from '../../device/journal/sqlite-journal.ts';
import { FileKeyStore } from '../../device/keys/file-keystore.ts';
import { systemSyncTimers } from '../../device/sync/backoff.ts';
import { type BackendKey, SyncClient } from '../../device/sync/client.ts';
import { type RunResult, Uploader } from '../../device/sync/uploader.ts';
import { Wallet } from '../../wallet/lib/wallet.ts';
import type { EnrolmentBundle } from '../../backend/lib/enrolment.ts';
import { BackendProcess, BatchRelay, backendBundle, type RelayConnection } from '../support/backend-process.ts';
import { ensureBuilt, repoRoot } from '../support/box-process.ts';

const N = 1500;
const BATCH = 500;
const BATCHES = Math.ceil(N / BATCH);
const START_BALANCE = 10_000_00;
const ADMIN = 'admin-token-kill-test';
const ENROL = 'enrol-token-kill-test';
const SHOP = { merchantId: 'SHOP-KILL', displayName: 'Kill Test Café', currency: 'EUR' };
const MODES = ['request-cut', 'in-hand', 'ack-lost'] as const;
type Mode = (typeof MODES)[number];

/** mulberry32, as in crash-sigkill.test.ts: replay a run with HIL_SEED. */
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

interface Kill {
  /** The batch request (1-based, resends included) during which the back end dies. */
  atRequest: number;
  mode: Mode;
  delayMs: number;
  /** The box restarts as well: journal reopened, fresh Uploader and client. */
  boxRestart: boolean;
  // Filled in when it happens.
  batchSeq?: number;
  /** When the relay saw the request start, and when the SIGKILL was sent (wall clock, ms). */
  requestAtMs?: number;
  killedAtMs?: number;
  /** What the in-hand timer lost to: 'timer' or 'answer' (the back end answered first). */
  firedBy?: 'timer' | 'answer' | 'cut';
}

/**
 * Every mode once plus one more, shuffled, at increasing batch requests. A kill consumes its
 * request and the batch goes again, so kill i happens iff fewer than BATCHES requests before it
 * completed a batch: at most BATCHES - 1 requests in all may pass without a kill.
 */
function planKills(random: () => number): Kill[] {
  const modes: Mode[] = [...MODES, MODES[Math.floor(random() * MODES.length)]!];
  for (let i = modes.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [modes[i], modes[j]] = [modes[j]!, modes[i]!];
  }
  let spareGaps = BATCHES - 1;
  let at = 0;
  const restartAt = Math.floor(random() * modes.length);
  return modes.map((mode, i) => {
    const gap = spareGaps > 0 && random() < 0.5 ? 1 : 0;
    spareGaps -= gap;
    at += 1 + gap;
    return { atRequest: at, mode, delayMs: Math.floor(random() * 250), boxRestart: i === restartAt };
  });
}

describe('reconcile with the real back end process SIGKILLed mid-batch', () => {
  const seed = Number(process.env['HIL_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
  const random = rng(seed);
  const p = createNodeProvider();
  let dir: string;
  let backend: BackendProcess | undefined;
  let relay: BatchRelay | undefined;
  let journal: SqliteJournal | undefined;
  let client: SyncClient | undefined;

  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'qrpay-backend-kill-'));
  }, 120_000);

  afterAll(async () => {
    client?.close();
    journal?.close();
    await relay?.close();
    await backend?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`${N} debits, back end killed at 4 moments and restarted on the same database: each settled exactly once`, { timeout: 120_000 }, async () => {
    const dbPath = join(dir, 'backend.db');
    const journalPath = join(dir, 'journal.db');
    const start = () => BackendProcess.start({ db: dbPath, adminToken: ADMIN, enrolToken: ENROL, readyTimeoutMs: 30_000 });
    const kills = planKills(random);
    const context = () => `seed ${seed} (replay with HIL_SEED=${seed}); kills ${JSON.stringify(kills)}\nbackend ${backend?.tail() ?? '-'}`;
    try {
      backend = await start();
      const admin = async (method: string, path: string, body?: unknown) => {
        const r = await fetch(`${backend!.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${ADMIN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
        return { status: r.status, body: (await r.json()) as Record<string, unknown> };
      };

      // Enrol the box online, as `scanner provision` does.
      const store = new FileKeyStore({ stateDir: join(dir, 'box') });
      const req = enrolmentRequest(store, p, SHOP);
      const er = await fetch(`${backend.url}/v1/enrol`, { method: 'POST', headers: { authorization: `Bearer ${ENROL}`, 'content-type': 'application/json' }, body: JSON.stringify(req) });
      expect(er.status).toBe(200);
      const { backendKey: bk, ...bundle } = (await er.json()) as EnrolmentBundle & { backendKey: { keyId: string; publicKey: string } };
      const ids = store.loadIdentity();
      const identity: BoxIdentity = loadBoxIdentity(p, bundle, { identity: [ids.current.bytes], deviceSeed: store.loadDeviceKey().bytes }, Math.floor(Date.now() / 1000));
      const backendKey: BackendKey = { keyId: bk.keyId, publicKey: fromHex(bk.publicKey) };

      // Two customers funded and given credentials through the admin API.
      const wallets = new Map<string, Wallet>();
      for (const accountId of ['alice', 'bob']) {
        expect((await admin('POST', '/v1/issuer/accounts', { accountId, balance: START_BALANCE, currency: 'EUR' })).status).toBe(201);
        const seedBytes = p.randomBytes(32);
        const cr = await admin('POST', '/v1/issuer/credentials', { accountId, walletPublicKey: toHex(p.ed25519Signer(seedBytes).publicKey), offlineLimit: START_BALANCE, days: 30 });
        expect(cr.status).toBe(201);
        const authorities = new Map((cr.body['authorities'] as { keyId: string; publicKey: string }[]).map((a) => [a.keyId, fromHex(a.publicKey)]));
        wallets.set(accountId, new Wallet(p, { seed: seedBytes, credential: decodeCredential(fromHex(cr.body['credential'] as string))!, counter: 0 }, { authorities, now: () => Date.now() }));
      }

      // N payments taken offline: the real decide(), committed to the journal file.
      journal = openSqliteJournal({ path: journalPath });
      const spent = new Map<string, number>([['alice', 0], ['bob', 0]]);
      const seen = new Set<string>();
      const unsynced = new Map<string, number>();
      const keys = { decryptionKeys: identity.decryptionKeys, roster: identity.roster, device: identity.device, deviceKeyId: identity.deviceKeyId, sessions: { get: () => undefined, recentlyClosed: () => false } };
      const debitIds = new Set<string>();
      for (let i = 0; i < N; i++) {
        const who = random() < 0.5 ? 'alice' : 'bob';
        const amount = 1_00 + Math.floor(random() * 400);
        const now = Date.now();
        const d = decide(p, {
          text: wallets.get(who)!.pay(identity.ownCard, amount).text,
          keys,
          issuers: { get: (k) => identity.issuers.get(k) },
          revocations: { version: 0, issuedAtMs: now, isRevoked: () => false },
          replay: { has: (w, c) => seen.has(`${w}/${c}`), unsyncedSpend: (w) => unsynced.get(w) ?? 0 },
          amount: { kind: 'fixed', amount, currency: 'EUR' },
          clock: { lowerMs: now, upperMs: now + 60_000 },
          policy: DEFAULT_POLICY,
        });
        if (d.kind !== 'accept') throw new Error(`payment ${i} declined: ${d.code}`);
        seen.add(`${d.walletKey}/${d.counter}`);
        unsynced.set(d.walletKey, (unsynced.get(d.walletKey) ?? 0) + d.amount);
        journal.commitAccept(
          { debitId: d.debitId, walletKey: d.walletKey, counter: d.counter, amount: d.amount, currency: d.currency, chargeId: d.chargeId, acceptedAtMs: d.acceptedAtMs, cardSerial: String(d.cardSerial), record: d.record, credentialExpiresAtMs: d.credentialExpiresAtMs },
          { scanKey: `scan-${i}`, atMs: d.acceptedAtMs },
        );
        spent.set(who, spent.get(who)! + amount);
        debitIds.add(d.debitId);
      }
      expect(journal.counts()).toEqual({ pending: N, uploaded: 0, settled: 0, rejected: 0 });

      // The kill switch, driven by where the batch requests are on the wire.
      let lastSeq = 0;
      let killed: (k: Kill) => void = () => {};
      let nextKill = new Promise<Kill>((r) => {
        killed = r;
      });
      let inHandTimer: NodeJS.Timeout | undefined;
      const killNow = (k: Kill, by: Kill['firedBy'], conn: RelayConnection) => {
        if (k.killedAtMs !== undefined) return;
        clearTimeout(inHandTimer);
        relay!.target = undefined; // new connections are refused until the restart
        k.batchSeq = lastSeq;
        k.firedBy = by;
        backend!.signal('SIGKILL');
        k.killedAtMs = Date.now();
        conn.drop();
        killed(k);
      };
      const killFor = (n: number) => kills.find((k) => k.atRequest === n);
      relay = new BatchRelay({
        onBatchRequest(n, conn, chunk) {
          const k = killFor(n);
          if (k) k.requestAtMs = Date.now();
          if (k?.mode !== 'request-cut') return undefined;
          conn.holdResponses();
          const half = Math.floor(chunk.length / 2);
          setImmediate(() => killNow(k, 'cut', conn)); // once the half is written
          return half;
        },
        onBatchRequestSent(n, conn) {
          const k = killFor(n);
          if (!k || k.mode === 'request-cut') return;
          conn.holdResponses(); // the box never sees this answer
          if (k.mode === 'in-hand') inHandTimer = setTimeout(() => killNow(k, 'timer', conn), k.delayMs);
        },
        onBatchResponse(n, conn) {
          const k = killFor(n);
          if (k) killNow(k, 'answer', conn);
        },
      });
      const relayPort = await relay.listen();
      relay.target = backend.port;

      const newClient = () =>
        new SyncClient({ baseUrl: `http://127.0.0.1:${relayPort}`, p, device: identity.device, deviceKeyId: identity.deviceKeyId, backendKey, issuers: () => identity.issuers, timeoutMs: 30_000 });
      const uploaders: Uploader[] = [];
      const newUploader = (j: SqliteJournal, c: SyncClient) => {
        const u = new Uploader({
          journal: j,
          sender: {
            uploadBatch: (seq, bytes) => {
              lastSeq = seq;
              return c.uploadBatch(seq, bytes);
            },
          },
          device: identity.device,
          deviceKeyId: identity.deviceKeyId,
          maxEntries: BATCH,
          maxBytes: 1024 * 1024,
          maxAttempts: 1000,
          backoff: { baseMs: 50, maxMs: 400 },
          random,
          timers: systemSyncTimers,
        });
        uploaders.push(u);
        return u;
      };

      client = newClient();
      let uploader = newUploader(journal, client);
      let run: Promise<RunResult> = uploader.run();
      for (const planned of kills) {
        const k = await Promise.race([nextKill, run]);
        expect(k, `the upload ended before kill ${JSON.stringify(planned)}; ${context()}`).toBe(planned);
        if (k !== planned) return;
        nextKill = new Promise<Kill>((r) => {
          killed = r;
        });
        const exit = await backend.exited;
        expect(exit.signal, context()).toBe('SIGKILL');
        if (k.boxRestart) {
          uploader.stop();
          expect((await run).outcome, context()).toBe('stopped');
          client.close();
          journal.close();
          journal = openSqliteJournal({ path: journalPath });
          client = newClient();
          uploader = newUploader(journal, client);
          run = uploader.run();
        }
        backend = await start();
        relay.target = backend.port;
      }
      const final = await run;
      expect(final, context()).toMatchObject({ outcome: 'done' });

      // The box: every debit settled, nothing pending, uploaded or in the outbox.
      expect(journal.counts(), context()).toEqual({ pending: 0, uploaded: 0, settled: N, rejected: 0 });
      expect(uploader.inFlight()).toEqual([]);
      const stats = uploaders.map((u) => u.stats);
      const sum = (f: (s: Uploader['stats']) => number) => stats.reduce((a, s) => a + f(s), 0);
      expect(sum((s) => s.resends), context()).toBeGreaterThanOrEqual(kills.length);
      expect(sum((s) => s.rejected)).toBe(0);

      // The back end through its admin API: balances and a balanced ledger.
      expect((await admin('GET', '/v1/ledger/total')).body).toEqual({ total: 0 });
      const balance = async (id: string) => (await admin('GET', `/v1/ledger/accounts/${encodeURIComponent(id)}`)).body['balance'];
      expect(await balance('alice')).toBe(START_BALANCE - spent.get('alice')!);
      expect(await balance('bob')).toBe(START_BALANCE - spent.get('bob')!);
      expect(await balance(`merchant:${SHOP.merchantId}`)).toBe(spent.get('alice')! + spent.get('bob')!);
      expect((await admin('GET', '/v1/acquirer/flags')).body).toEqual({ flags: [] });

      // The back end's database after an orderly stop.
      const stopped = await backend.stop();
      expect(stopped.code, context()).toBe(0);
      const db = new Database(dbPath, { readonly: true, fileMustExist: true });
      try {
        const one = (sql: string) => (db.prepare(sql).pluck().get() as number | string);
        expect(one('PRAGMA integrity_check')).toBe('ok');
        expect(one('SELECT count(*) FROM debits')).toBe(N);
        expect(one("SELECT count(*) FROM debits WHERE status = 'settled'")).toBe(N);
        expect(new Set(db.prepare('SELECT debit_id FROM debits').pluck().all() as string[])).toEqual(debitIds);
        expect(one('SELECT count(DISTINCT wallet_key || \'/\' || counter) FROM debits')).toBe(N);
        expect(one("SELECT count(DISTINCT txn_id) FROM ledger_entries WHERE kind = 'debit'")).toBe(N);
        expect(db.prepare("SELECT debit_id FROM ledger_entries WHERE kind = 'debit' GROUP BY debit_id HAVING count(DISTINCT txn_id) <> 1").all()).toEqual([]);
        for (const t of ['counter_reuses', 'rejections', 'flags', 'voids', 'refunds']) expect(one(`SELECT count(*) FROM ${t}`), t).toBe(0);
        expect(one('SELECT count(*) FROM batches')).toBeGreaterThanOrEqual(BATCHES);
        // Each kill hit the moment it claims: a cut request never committed its batch, a lost ack
        // always came after the commit (of this request, or of an earlier one when the batch was a
        // resend); in-hand kills fall either side.
        const receivedAt = db.prepare('SELECT received_at_ms FROM batches WHERE device_key_id = ? AND batch_seq = ?').pluck();
        const report: string[] = [];
        for (const k of kills) {
          const at = receivedAt.get(toHex(identity.deviceKeyId), k.batchSeq) as number | undefined;
          expect(at, `batch ${k.batchSeq} stored`).toBeTypeOf('number');
          const stored = at! <= k.killedAtMs!;
          const byThisRequest = stored && at! >= k.requestAtMs!;
          if (k.mode === 'request-cut') expect(byThisRequest, context()).toBe(false);
          if (k.mode === 'ack-lost') expect(stored, context()).toBe(true);
          const state = byThisRequest ? 'after its commit' : stored ? 'batch already stored (resend)' : 'before any commit';
          report.push(`${k.mode}${k.mode === 'in-hand' ? ` ${k.delayMs}ms/${k.firedBy}` : ''} @req ${k.atRequest} batch ${k.batchSeq}: ${state}${k.boxRestart ? ' +box restart' : ''}`);
        }
        console.info(`seed ${seed}: ${report.join('; ')}; resends ${sum((s) => s.resends)}, batches sent ${sum((s) => s.batchesSent)}`);
      } finally {
        db.close();
      }
      const check = spawnSync(process.execPath, [backendBundle, 'ledger', 'check', '--db', dbPath], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });
      expect(check.status, check.stderr).toBe(0);
      expect(JSON.parse(check.stdout)).toEqual({ total: 0, balanced: true });
    } catch (e) {
      console.error(context());
      throw e;
    }
  });
});
