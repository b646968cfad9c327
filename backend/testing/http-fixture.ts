/**
 * Test fixture: a real back end on 127.0.0.1 (port 0) with a temp SQLite file and a clock the
 * test moves, real boxes (FileKeyStore + enrolment request + loadBoxIdentity) and real wallets
 * (issued through the admin API), and debits made by the real decide().
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Accept, decide } from '../../device/core/decide.ts';
import type { CryptoProvider } from '../../device/core/crypto/provider.ts';
import { fromHex } from '../../device/core/encoding/bytes.ts';
import { type BatchEntry, ENTRY, signBatch } from '../../device/core/protocol/batch.ts';
import { decodeCredential } from '../../device/core/protocol/credential.ts';
import { DEFAULT_POLICY, type ReplayView } from '../../device/core/views.ts';
import { type BoxIdentity, type BoxSecrets, loadBoxIdentity } from '../../device/app/box-identity.ts';
import { enrolmentRequest, type MerchantInfo } from '../../device/app/provision.ts';
import { createNodeProvider } from '../../device/crypto/node-provider.ts';
import { FileKeyStore } from '../../device/keys/file-keystore.ts';
import { Wallet } from '../../wallet/lib/wallet.ts';
import { BoxClient } from '../client/box-client.ts';
import { Backend } from '../lib/backend.ts';
import type { EnrolmentBundle } from '../lib/enrolment.ts';
import { createBackendServer } from '../http/server.ts';

export const ADMIN = 'admin-token-for-tests';
export const ENROL = 'enrol-token-for-tests';
export const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

export interface TestBox {
  identity: BoxIdentity;
  bundle: EnrolmentBundle;
  secrets: BoxSecrets;
  backendKey: { keyId: string; publicKey: string };
  client: BoxClient;
  replay: ReplayView & { add(w: string, c: number, amount: number): void };
  nextSeq: number;
  /** Revocation view the box holds. */
  revocations: { version: number; issuedAtMs: number; wallets: Set<string> };
}

function memoryReplay(): TestBox['replay'] {
  const seen = new Set<string>();
  const spend = new Map<string, number>();
  return {
    has: (w, c) => seen.has(`${w}/${c}`),
    unsyncedSpend: (w) => spend.get(w) ?? 0,
    add(w, c, amount) {
      seen.add(`${w}/${c}`);
      spend.set(w, (spend.get(w) ?? 0) + amount);
    },
  };
}

export async function startFixture() {
  const p: CryptoProvider = createNodeProvider();
  const dir = mkdtempSync(join(tmpdir(), 'qrpay-backend-'));
  const clock = { ms: T0 };
  const backend = Backend.open({ dbPath: join(dir, 'backend.db'), provider: p, now: () => clock.ms });
  const server: Server = createBackendServer(backend, { adminToken: ADMIN, enrolToken: ENROL });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let boxCount = 0;
  const seeds = new WeakMap<Wallet, { seed: Uint8Array; authorities: Map<string, Uint8Array> }>();

  const http = async (method: string, path: string, body?: unknown, token: string | null = ADMIN) => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> & { error?: string } };
  };

  const enrolBox = async (m: MerchantInfo): Promise<TestBox> => {
    const store = new FileKeyStore({ stateDir: join(dir, `box${boxCount++}`) });
    const req = enrolmentRequest(store, p, m);
    const r = await http('POST', '/v1/enrol', req, ENROL);
    if (r.status !== 200) throw new Error(`enrol failed: ${JSON.stringify(r.body)}`);
    const { backendKey, ...bundle } = r.body as unknown as EnrolmentBundle & { backendKey: TestBox['backendKey'] };
    const ids = store.loadIdentity();
    const secrets: BoxSecrets = { identity: [ids.current.bytes], deviceSeed: store.loadDeviceKey().bytes };
    const identity = loadBoxIdentity(p, bundle, secrets, Math.floor(clock.ms / 1000));
    return {
      identity,
      bundle,
      secrets,
      backendKey,
      client: new BoxClient(p, base, identity.device),
      replay: memoryReplay(),
      nextSeq: 1,
      revocations: { version: 0, issuedAtMs: clock.ms, wallets: new Set() },
    };
  };

  const newWallet = async (accountId: string, balance: number, offlineLimit = 50_00): Promise<Wallet> => {
    const acct = await http('POST', '/v1/issuer/accounts', { accountId, balance, currency: 'EUR' });
    if (acct.status !== 201 && acct.body.error !== 'ACCOUNT_EXISTS') throw new Error(`account: ${JSON.stringify(acct.body)}`);
    const seed = p.randomBytes(32);
    const pub = p.ed25519Signer(seed).publicKey;
    const r = await http('POST', '/v1/issuer/credentials', { accountId, walletPublicKey: Buffer.from(pub).toString('hex'), offlineLimit, days: 180 });
    const authorities = new Map((r.body.authorities as { keyId: string; publicKey: string }[]).map((a) => [a.keyId, fromHex(a.publicKey)]));
    const credential = decodeCredential(fromHex(r.body.credential as string))!;
    const w = new Wallet(p, { seed, credential, counter: 0 }, { authorities, now: () => clock.ms });
    seeds.set(w, { seed, authorities });
    return w;
  };

  /** A copy of `w` restored from a backup taken when its counter was `counter` (a clone). */
  const cloneWallet = (w: Wallet, counter: number): Wallet => {
    const s = seeds.get(w)!;
    return new Wallet(p, { seed: s.seed, credential: w.credential, counter }, { authorities: s.authorities, now: () => clock.ms });
  };

  /** The wallet pays `amount` at `box`; the box decides with the real decide(). */
  const pay = (box: TestBox, wallet: Wallet, amount: number, o: { revoked?: boolean } = {}): Accept => {
    const { text } = wallet.pay(box.identity.ownCard, amount);
    const id = box.identity;
    const d = decide(p, {
      text,
      keys: {
        decryptionKeys: id.decryptionKeys,
        roster: id.roster,
        device: id.device,
        deviceKeyId: id.deviceKeyId,
        sessions: { get: () => undefined, recentlyClosed: () => false },
      },
      issuers: { get: (k) => id.issuers.get(k) },
      revocations: {
        version: box.revocations.version,
        issuedAtMs: box.revocations.issuedAtMs,
        isRevoked: (w) => o.revoked !== false && box.revocations.wallets.has(w),
      },
      replay: box.replay,
      amount: { kind: 'fixed', amount, currency: 'EUR' },
      clock: { lowerMs: clock.ms, upperMs: clock.ms + 60_000 },
      policy: DEFAULT_POLICY,
    });
    if (d.kind !== 'accept') throw new Error(`box declined: ${d.code} ${d.detail}`);
    box.replay.add(d.walletKey, d.counter, d.amount);
    return d;
  };

  const batchOf = (box: TestBox, entries: BatchEntry[], seq?: number): Uint8Array =>
    signBatch(box.identity.deviceKeyId, seq ?? box.nextSeq++, entries, box.identity.device);
  const debits = (...records: Uint8Array[]): BatchEntry[] => records.map((bytes) => ({ type: ENTRY.debit, bytes }));

  const balance = async (accountId: string): Promise<number> => {
    const r = await http('GET', `/v1/ledger/accounts/${encodeURIComponent(accountId)}`);
    return r.status === 200 ? (r.body.balance as number) : 0;
  };

  const close = async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    backend.close();
    rmSync(dir, { recursive: true, force: true });
  };

  return { p, dir, clock, backend, base, http, enrolBox, newWallet, cloneWallet, pay, batchOf, debits, balance, close };
}

export type Fixture = Awaited<ReturnType<typeof startFixture>>;
