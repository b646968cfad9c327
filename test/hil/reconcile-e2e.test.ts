/**
 * End to end over loopback HTTP against the real reference back end (backend/testing/http-fixture.ts):
 * enrol a box, issue two wallets, take N payments with the link down (decided by the real decide(),
 * committed to a real SQLite journal), bring the link up: every debit settled exactly once and the
 * books balance. Plus faults against the real back end: the box killed mid-upload after the commit,
 * and an unreachable back end; and the bytes per debit on the wire.
 *
 * Here the back end "killed mid-batch" is its HTTP front dying with the request in hand, before or
 * after the commit (same SQLite store behind it, as after a restart). The real back-end process
 * SIGKILLed mid-batch and restarted is test/hil/reconcile-backend-kill.test.ts; payments through the
 * serial scanner path are in test/hil/box-pty.test.ts and crash-sigkill.test.ts.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLog } from '../../drivers/common/log.ts';
import { FakeIndicator } from '../../drivers/indicator/fake.ts';
import { FakeConnectivity } from '../../drivers/modem/fake.ts';
import { fromHex } from '../../device/core/encoding/bytes.ts';
import { openSqliteJournal } from '../../device/journal/sqlite-journal.ts';
import type { Journal } from '../../device/journal/types.ts';
import { systemSyncTimers } from '../../device/sync/backoff.ts';
import { SyncClient } from '../../device/sync/client.ts';
import { SyncService } from '../../device/sync/sync-service.ts';
import { createConnectivity } from '../../device/sync/start-sync.ts';
import { type BatchSender, Uploader } from '../../device/sync/uploader.ts';
import { createBackendServer } from '../../backend/http/server.ts';
import { ADMIN, ENROL, type Fixture, startFixture, type TestBox } from '../../backend/testing/http-fixture.ts';

const SHOP = { merchantId: 'SHOP-E2E', displayName: 'E2E Café', currency: 'EUR', location: { lat: 52.5, lon: 13.4 } };

let f: Fixture;
let journals: Journal[] = [];
let clients: SyncClient[] = [];

beforeEach(async () => {
  f = await startFixture();
});
afterEach(async () => {
  for (const c of clients) c.close();
  for (const j of journals) j.close();
  clients = [];
  journals = [];
  await f.close();
});

function clientFor(box: TestBox, baseUrl = f.base): SyncClient {
  const c = new SyncClient({
    baseUrl,
    p: f.p,
    device: box.identity.device,
    deviceKeyId: box.identity.deviceKeyId,
    backendKey: { keyId: box.backendKey.keyId, publicKey: fromHex(box.backendKey.publicKey) },
    issuers: () => box.identity.issuers,
    timeoutMs: 5000,
  });
  clients.push(c);
  return c;
}

function uploaderFor(box: TestBox, journal: Journal, sender: BatchSender, maxEntries = 50): Uploader {
  return new Uploader({ journal, sender, device: box.identity.device, deviceKeyId: box.identity.deviceKeyId, maxEntries, random: () => 0, timers: systemSyncTimers, backoff: { baseMs: 5, maxMs: 20 }, maxAttempts: 10 });
}

async function takePayments(box: TestBox, journal: Journal, n: number) {
  const alice = await f.newWallet('alice', 1000_00, 500_00);
  const bob = await f.newWallet('bob', 1000_00, 500_00);
  let total = { alice: 0, bob: 0 };
  for (let i = 0; i < n; i++) {
    const who = i % 2 === 0 ? 'alice' : 'bob';
    const amount = 1_00 + i;
    const d = f.pay(box, who === 'alice' ? alice : bob, amount);
    journal.commitAccept(
      { debitId: d.debitId, walletKey: d.walletKey, counter: d.counter, amount: d.amount, currency: d.currency, chargeId: d.chargeId, acceptedAtMs: d.acceptedAtMs, cardSerial: String(d.cardSerial), record: d.record, credentialExpiresAtMs: d.credentialExpiresAtMs },
      { scanKey: `scan-${i}`, atMs: d.acceptedAtMs },
    );
    total = { ...total, [who]: total[who] + amount };
  }
  return total;
}

describe('reconcile end to end against the reference back end', () => {
  it('N payments offline, link up: all settled exactly once, balances add up, time and revocations applied', async () => {
    const N = 40;
    const box = await f.enrolBox(SHOP);
    const journal = openSqliteJournal({ path: ':memory:' });
    journals.push(journal);
    const spent = await takePayments(box, journal, N);
    const client = clientFor(box);
    const link = new FakeConnectivity({ up: false });
    await link.open();
    const indicator = new FakeIndicator();
    const clock = { applySignedTime: vi.fn(), nowMs: () => f.clock.ms };
    const service = new SyncService({
      connectivity: link,
      api: client,
      uploader: uploaderFor(box, journal, client, 16),
      journal,
      bundles: { current: () => JSON.stringify(box.bundle), importVerified: vi.fn(), trusted: () => ({ authorities: new Set(box.identity.authorities.keys()), issuers: new Set(box.identity.issuers.keys()) }) },
      clock,
      indicator,
      intervalMs: 60_000,
      backlogAlertMs: 15 * 60_000,
      timers: systemSyncTimers,
      log: silentLog,
    });

    await service.runOnce();
    expect(client.stats.requests).toBe(0);
    f.clock.ms += 20 * 60_000;
    await service.runOnce();
    expect(indicator.base).toBe('offline-backlog');

    link.setUp(true);
    const r = await service.runOnce();
    expect(r).toMatchObject({ time: 'applied', revocations: 'stored', upload: { outcome: 'done' } });
    expect(r.updates).toMatchObject({ rejections: { applied: 0 } });
    expect(clock.applySignedTime).toHaveBeenCalledWith(f.clock.ms);
    expect(journal.getMeta('revocations')).toMatchObject({ wallets: [] });
    expect(journal.counts()).toEqual({ pending: 0, uploaded: 0, settled: N, rejected: 0 });
    expect(indicator.base).toBe('ready');
    expect(await f.balance('alice')).toBe(1000_00 - spent.alice);
    expect(await f.balance('bob')).toBe(1000_00 - spent.bob);
    expect(await f.balance(`merchant:${SHOP.merchantId}`)).toBe(spent.alice + spent.bob);
    expect(f.backend.ledger.total()).toBe(0);
  });

  it('box killed mid-upload after the back end committed: the new box process resends the same batch, nothing moves twice', async () => {
    const box = await f.enrolBox(SHOP);
    const journal = openSqliteJournal({ path: ':memory:' });
    journals.push(journal);
    const spent = await takePayments(box, journal, 10);
    const client = clientFor(box);
    let committed = 0;
    const dying: BatchSender = {
      async uploadBatch(seq, bytes) {
        await client.uploadBatch(seq, bytes); // the back end commits...
        committed++;
        return new Promise(() => {}); // ...and the box dies before it sees the ack
      },
    };
    void uploaderFor(box, journal, dying).run();
    await vi.waitFor(() => expect(committed).toBe(1));
    expect(journal.counts().uploaded).toBe(10);

    const u2 = uploaderFor(box, journal, client); // the restarted box, same journal
    await expect(u2.run()).resolves.toMatchObject({ outcome: 'done' });
    expect(u2.stats).toMatchObject({ resends: 1, settled: 10 });
    expect(journal.counts()).toMatchObject({ settled: 10, uploaded: 0, pending: 0 });
    expect(await f.balance(`merchant:${SHOP.merchantId}`)).toBe(spent.alice + spent.bob);
    expect(f.backend.ledger.total()).toBe(0);
  });

  it('back end unreachable: the batch stays in the outbox; once reachable it is settled exactly once', async () => {
    const box = await f.enrolBox(SHOP);
    const journal = openSqliteJournal({ path: ':memory:' });
    journals.push(journal);
    const spent = await takePayments(box, journal, 6);
    const dead = clientFor(box, 'http://127.0.0.1:9'); // discard port: refused
    const u1 = new Uploader({ journal, sender: dead, device: box.identity.device, deviceKeyId: box.identity.deviceKeyId, random: () => 0, timers: systemSyncTimers, backoff: { baseMs: 1, maxMs: 2 }, maxAttempts: 2 });
    await expect(u1.run()).resolves.toMatchObject({ outcome: 'failed', error: { code: 'SYNC_NETWORK' } });
    expect(u1.inFlight()).toHaveLength(1);
    const u2 = uploaderFor(box, journal, clientFor(box));
    await expect(u2.run()).resolves.toMatchObject({ outcome: 'done' });
    expect(journal.counts().settled).toBe(6);
    expect(await f.balance(`merchant:${SHOP.merchantId}`)).toBe(spent.alice + spent.bob);
  });

  it('bytes per debit on the wire (HTTP headers included, one batch of 200)', async () => {
    const box = await f.enrolBox(SHOP);
    const journal = openSqliteJournal({ path: ':memory:' });
    journals.push(journal);
    await takePayments(box, journal, 200);
    const client = clientFor(box);
    const u = uploaderFor(box, journal, client, 500);
    await u.run();
    expect(journal.counts().settled).toBe(200);
    const body = u.stats.bodyBytes / 200;
    const wireOut = client.stats.bytesOut / 200;
    const wireBoth = (client.stats.bytesOut + client.stats.bytesIn) / 200;
    console.info(`bytes per debit: body ${body.toFixed(1)}, wire up ${wireOut.toFixed(1)}, wire up+down ${wireBoth.toFixed(1)}`);
    expect(wireOut).toBeLessThanOrEqual(400);
  });

  it('back end killed mid-batch, before and after its commit: no loss, no duplicate', async () => {
    const box = await f.enrolBox(SHOP);
    const journal = openSqliteJournal({ path: ':memory:' });
    journals.push(journal);
    const spent = await takePayments(box, journal, 12);
    const handler = createBackendServer(f.backend, { adminToken: ADMIN, enrolToken: ENROL }).listeners('request')[0] as RequestListener;
    const kills: ('before-commit' | 'after-commit')[] = ['before-commit', 'after-commit', 'after-commit'];
    const front: Server = createServer((req, res) => {
      const kill = req.url === '/v1/box/batches' ? kills.shift() : undefined;
      if (kill === 'before-commit') {
        req.socket.destroy();
        return;
      }
      if (kill === 'after-commit') {
        res.writeHead = (() => {
          req.socket.destroy();
          return res;
        }) as typeof res.writeHead;
      }
      handler(req, res);
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    try {
      const client = clientFor(box, `http://127.0.0.1:${(front.address() as AddressInfo).port}`);
      const u = uploaderFor(box, journal, client, 5);
      await expect(u.run()).resolves.toMatchObject({ outcome: 'done' });
      expect(kills).toEqual([]);
      expect(u.stats.batchesSent).toBeGreaterThan(3);
      expect(journal.counts()).toMatchObject({ settled: 12, pending: 0, uploaded: 0 });
      expect(await f.balance('alice')).toBe(1000_00 - spent.alice);
      expect(await f.balance(`merchant:${SHOP.merchantId}`)).toBe(spent.alice + spent.bob);
      expect(f.backend.ledger.total()).toBe(0);
    } finally {
      front.closeAllConnections();
      await new Promise((r) => front.close(r));
    }
  });

  it('reachability connectivity probes the back end health route', async () => {
    const link = await createConnectivity({ kind: 'reachability', timeoutMs: 2000 }, f.base, silentLog);
    await link.open();
    await expect(link.check()).resolves.toMatchObject({ up: true, source: 'reachability' });
  });
});
