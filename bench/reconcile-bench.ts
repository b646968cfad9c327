/**
 * Reconcile N queued debits over loopback HTTP against the real reference back end:
 * in-process server on 127.0.0.1 port 0, SQLite back end and box journal in a temp dir, the real
 * Uploader (device/sync/uploader.ts) and SyncClient. Reported next to the rate of raw Ed25519
 * verification measured in the same run: every debit needs its signatures checked, so
 * verifies/s ÷ verifies per debit (counted at the acquirer's provider) is the floor's rate.
 *
 * The debits are made beforehand (untimed) by real wallets and the real decide() on the node
 * provider, and committed with journal.commitAccept, like the box does.
 *
 *   npx tsx bench/reconcile-bench.ts [count]
 */
import { verify as nodeVerify, createPublicKey, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decide } from '../device/core/decide.ts';
import type { CryptoProvider } from '../device/core/crypto/provider.ts';
import { fromHex, toHex } from '../device/core/encoding/bytes.ts';
import { DEFAULT_POLICY } from '../device/core/views.ts';
import { loadBoxIdentity } from '../device/app/box-identity.ts';
import { enrolmentRequest } from '../device/app/provision.ts';
import { createNodeProvider } from '../device/crypto/node-provider.ts';
import { openSqliteJournal } from '../device/journal/sqlite-journal.ts';
import { FileKeyStore } from '../device/keys/file-keystore.ts';
import { systemSyncTimers } from '../device/sync/backoff.ts';
import { SyncClient } from '../device/sync/client.ts';
import { Uploader } from '../device/sync/uploader.ts';
import { Backend } from '../backend/lib/backend.ts';
import type { EnrolmentBundle } from '../backend/lib/enrolment.ts';
import { createBackendServer } from '../backend/http/server.ts';
import { Wallet } from '../wallet/lib/wallet.ts';

export const RECONCILE_RATIO_GOAL = 0.5;
export const RECONCILE_BYTES_GOAL = 400;
const WALLETS = 100;
const BATCH_ENTRIES = 500;

export interface ReconcileBenchResult {
  debits: number;
  settled: number;
  generateSeconds: number;
  reconcileSeconds: number;
  debitsPerSecond: number;
  /** Raw node:crypto Ed25519 verifies per second (key objects imported once, as the provider caches them). */
  verifiesPerSecond: number;
  /** Ed25519 verifies the back end ran during the reconcile, per debit (device record + issuer + wallet + batch/auth). */
  verifiesPerDebit: number;
  verifyBoundRate: number;
  /** debitsPerSecond / verifyBoundRate. */
  ratio: number;
  batches: number;
  /** Signed batch bytes (HTTP bodies) per debit. */
  bodyBytesPerDebit: number;
  /** Everything the box sent over the socket (request lines, headers, auth nonces, bodies) per debit. */
  wireUpBytesPerDebit: number;
  wireDownBytesPerDebit: number;
  /** Where the reconcile time went (seconds): inside Backend.answerBatch, of which Ed25519 verifies; the rest is the box and HTTP. */
  breakdown: { backendSeconds: number; verifySeconds: number };
}

/** The provider the back end uses, counting Ed25519 verifies and the time they take. */
function countingProvider(p: CryptoProvider): { p: CryptoProvider; count: () => number; ms: () => number } {
  let n = 0;
  let ms = 0;
  const counted: CryptoProvider = {
    ...p,
    ed25519Verify(publicKey, message, signature) {
      n++;
      const t = performance.now();
      try {
        return p.ed25519Verify(publicKey, message, signature);
      } finally {
        ms += performance.now() - t;
      }
    },
  };
  return { p: counted, count: () => n, ms: () => ms };
}

/** Raw Ed25519 verification: node:crypto.verify over a pool of real signatures, keys imported once. */
export function measureRawVerifies(p: CryptoProvider, ms: number): number {
  const pool: { key: KeyObject; msg: Uint8Array; sig: Uint8Array }[] = [];
  for (let i = 0; i < 64; i++) {
    const s = p.ed25519Signer(p.randomBytes(32));
    const msg = p.randomBytes(138); // the wallet's signed content (protocol 5.2) is 138 bytes
    const x = Buffer.from(s.publicKey).toString('base64url');
    pool.push({ key: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' }), msg, sig: s.sign(msg) });
  }
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    for (const v of pool) if (!nodeVerify(null, v.msg, v.key, v.sig)) throw new Error('measureRawVerifies: a good signature failed');
    n += pool.length;
  }
  return n / ((performance.now() - t0) / 1000);
}

export async function runReconcileBench(n: number, dirArg?: string): Promise<ReconcileBenchResult> {
  const p = createNodeProvider();
  const dir = mkdtempSync(join(dirArg ?? tmpdir(), 'qrpay-reconcile-'));
  const clockMs = Date.now();
  const counting = countingProvider(createNodeProvider());
  const backend = Backend.open({ dbPath: join(dir, 'backend.db'), provider: counting.p, now: () => clockMs });
  const enrolToken = backend.token('enrol_token');
  const server = createBackendServer(backend, { adminToken: backend.token('admin_token'), enrolToken });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const journal = openSqliteJournal({ path: join(dir, 'journal.db') });
  let client: SyncClient | undefined;
  try {
    // Enrol the box online, as `scanner provision` does.
    const store = new FileKeyStore({ stateDir: join(dir, 'box') });
    const req = enrolmentRequest(store, p, { merchantId: 'BENCH-SHOP', displayName: 'Bench Shop', currency: 'EUR' });
    const r = await fetch(`${base}/v1/enrol`, { method: 'POST', headers: { authorization: `Bearer ${enrolToken}`, 'content-type': 'application/json' }, body: JSON.stringify(req) });
    const { backendKey, ...bundle } = (await r.json()) as EnrolmentBundle & { backendKey: { keyId: string; publicKey: string } };
    const ids = store.loadIdentity();
    const identity = loadBoxIdentity(p, bundle, { identity: [ids.current.bytes], deviceSeed: store.loadDeviceKey().bytes }, Math.floor(clockMs / 1000));

    // Wallets from the issuer, then n debits decided by the real decide() and committed (untimed).
    const tGen = performance.now();
    const perWallet = Math.ceil(n / WALLETS);
    const wallets: Wallet[] = [];
    const authorities = new Map([...identity.authorities].map(([k, v]) => [k, v]));
    for (let i = 0; i < WALLETS; i++) {
      backend.issuer.createAccount(`bench-${i}`, perWallet * 1_00 * 2, 'EUR');
      const seed = p.randomBytes(32);
      const credential = backend.issuer.issueCredential(`bench-${i}`, p.ed25519Signer(seed).publicKey, perWallet * 1_00 * 2, 30);
      wallets.push(new Wallet(p, { seed, credential, counter: 0 }, { authorities, now: () => clockMs }));
    }
    const seen = new Set<string>();
    const spend = new Map<string, number>();
    const keys = { decryptionKeys: identity.decryptionKeys, roster: identity.roster, device: identity.device, deviceKeyId: identity.deviceKeyId, sessions: { get: () => undefined, recentlyClosed: () => false } };
    for (let i = 0; i < n; i++) {
      const { text } = wallets[i % WALLETS]!.pay(identity.ownCard, 1_00);
      const d = decide(p, {
        text,
        keys,
        issuers: { get: (k) => identity.issuers.get(k) },
        revocations: { version: 0, issuedAtMs: clockMs, isRevoked: () => false },
        replay: { has: (w, c) => seen.has(`${w}/${c}`), unsyncedSpend: (w) => spend.get(w) ?? 0 },
        amount: { kind: 'fixed', amount: 1_00, currency: 'EUR' },
        clock: { lowerMs: clockMs, upperMs: clockMs + 60_000 },
        policy: DEFAULT_POLICY,
      });
      if (d.kind !== 'accept') throw new Error(`runReconcileBench: debit ${i} declined ${d.code}`);
      seen.add(`${d.walletKey}/${d.counter}`);
      spend.set(d.walletKey, (spend.get(d.walletKey) ?? 0) + d.amount);
      journal.commitAccept(
        { debitId: d.debitId, walletKey: d.walletKey, counter: d.counter, amount: d.amount, currency: d.currency, chargeId: d.chargeId, acceptedAtMs: d.acceptedAtMs, cardSerial: String(d.cardSerial), record: d.record, credentialExpiresAtMs: d.credentialExpiresAtMs },
        { scanKey: `bench-${i}`, atMs: d.acceptedAtMs },
      );
    }
    const generateSeconds = (performance.now() - tGen) / 1000;

    // The timed part: the real uploader drains the journal through the real client.
    client = new SyncClient({
      baseUrl: base,
      p,
      device: identity.device,
      deviceKeyId: identity.deviceKeyId,
      backendKey: { keyId: backendKey.keyId, publicKey: fromHex(backendKey.publicKey) },
      issuers: () => identity.issuers,
      timeoutMs: 60_000,
    });
    const uploader = new Uploader({ journal, sender: client, device: identity.device, deviceKeyId: identity.deviceKeyId, maxEntries: BATCH_ENTRIES, maxBytes: 1024 * 1024, random: Math.random, timers: systemSyncTimers });
    // Profile breakdown only: time spent inside the back end's batch handling (same work, timed).
    let backendMs = 0;
    const answerBatch = backend.answerBatch.bind(backend);
    backend.answerBatch = (box, body) => {
      const t = performance.now();
      try {
        return answerBatch(box, body);
      } finally {
        backendMs += performance.now() - t;
      }
    };
    const rawBefore = measureRawVerifies(p, 1000);
    const verifiesBefore = counting.count();
    const verifyMsBefore = counting.ms();
    const t0 = performance.now();
    const run = await uploader.run();
    const reconcileSeconds = (performance.now() - t0) / 1000;
    const verifies = counting.count() - verifiesBefore;
    const verifySeconds = (counting.ms() - verifyMsBefore) / 1000;
    const rawAfter = measureRawVerifies(p, 1000);
    if (run.outcome !== 'done') throw new Error(`runReconcileBench: upload ${run.outcome} ${run.error?.code ?? ''}`);
    const settled = journal.counts().settled;
    if (settled !== n || backend.ledger.total() !== 0) throw new Error(`runReconcileBench: ${settled}/${n} settled, ledger total ${backend.ledger.total()}`);
    const merchant = backend.ledger.account('merchant:BENCH-SHOP')?.balance;
    if (merchant !== n * 1_00) throw new Error(`runReconcileBench: merchant holds ${merchant}, expected ${n * 1_00} (${toHex(identity.deviceKeyId)})`);

    const verifiesPerSecond = Math.max(rawBefore, rawAfter);
    const verifiesPerDebit = verifies / n;
    const verifyBoundRate = verifiesPerSecond / verifiesPerDebit;
    const debitsPerSecond = n / reconcileSeconds;
    return {
      debits: n,
      settled,
      generateSeconds,
      reconcileSeconds,
      debitsPerSecond,
      verifiesPerSecond,
      verifiesPerDebit,
      verifyBoundRate,
      ratio: debitsPerSecond / verifyBoundRate,
      batches: uploader.stats.batchesSent,
      bodyBytesPerDebit: uploader.stats.bodyBytes / n,
      wireUpBytesPerDebit: client.stats.bytesOut / n,
      wireDownBytesPerDebit: client.stats.bytesIn / n,
      breakdown: { backendSeconds: backendMs / 1000, verifySeconds },
    };
  } finally {
    client?.close();
    journal.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    backend.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printReconcile(r: ReconcileBenchResult): void {
  const met = (ok: boolean) => (ok ? 'met' : 'MISSED');
  console.log(`  ${r.debits} debits made by real wallets + decide() and committed to the journal in ${r.generateSeconds.toFixed(1)} s (untimed)`);
  console.log(`  reconcile: ${r.debits} debits in ${r.batches} batches of <= ${BATCH_ENTRIES} in ${r.reconcileSeconds.toFixed(2)} s = ${r.debitsPerSecond.toFixed(0)} debits/s, all settled once, books balanced`);
  console.log(`  raw Ed25519 verify (node:crypto, keys imported once): ${r.verifiesPerSecond.toFixed(0)}/s; the acquirer ran ${r.verifiesPerDebit.toFixed(3)} verifies per debit`);
  console.log(`  verify-bound rate = ${r.verifiesPerSecond.toFixed(0)} / ${r.verifiesPerDebit.toFixed(3)} = ${r.verifyBoundRate.toFixed(0)} debits/s`);
  const b = r.breakdown;
  const pct = (s: number) => `${((100 * s) / r.reconcileSeconds).toFixed(0)}%`;
  console.log(
    `  where the time went: back end ${b.backendSeconds.toFixed(2)} s (${pct(b.backendSeconds)}; Ed25519 verify ${b.verifySeconds.toFixed(2)} s = ${pct(b.verifySeconds)}, settlement, SQL, ledger, signing ${(b.backendSeconds - b.verifySeconds).toFixed(2)} s = ${pct(b.backendSeconds - b.verifySeconds)}), box + HTTP ${(r.reconcileSeconds - b.backendSeconds).toFixed(2)} s (${pct(r.reconcileSeconds - b.backendSeconds)})`,
  );
  console.log(`  reconcile / verify-bound: ${(r.ratio * 100).toFixed(1)}% (goal >= ${RECONCILE_RATIO_GOAL * 100}%: ${met(r.ratio >= RECONCILE_RATIO_GOAL)})`);
  console.log(
    `  bytes per debit: ${r.wireUpBytesPerDebit.toFixed(1)} B up on the wire (HTTP request lines, headers, auth nonces, bodies; goal <= ${RECONCILE_BYTES_GOAL}: ${met(r.wireUpBytesPerDebit <= RECONCILE_BYTES_GOAL)}), of which ${r.bodyBytesPerDebit.toFixed(1)} B signed batch body; ${r.wireDownBytesPerDebit.toFixed(1)} B down`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const n = Number(process.argv[2] ?? 10_000);
  runReconcileBench(n).then(printReconcile, (e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
