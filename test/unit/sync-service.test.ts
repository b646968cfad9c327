/**
 * The reconciliation loop with a fake link, a fake back-end API, a fake indicator and a real
 * in-memory journal; scheduling under fake timers.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLog } from '../../drivers/common/log.ts';
import { FakeIndicator } from '../../drivers/indicator/fake.ts';
import { FakeConnectivity } from '../../drivers/modem/fake.ts';
import { nobleProvider } from '../../device/core/crypto/noble.ts';
import { utf8 } from '../../device/core/encoding/bytes.ts';
import { BoxError } from '../../device/core/errors.ts';
import { decodeBatch } from '../../device/core/protocol/batch.ts';
import { openSqliteJournal } from '../../device/journal/sqlite-journal.ts';
import type { Journal } from '../../device/journal/types.ts';
import { systemSyncTimers } from '../../device/sync/backoff.ts';
import type { Revocations, Updates } from '../../device/sync/client.ts';
import { applyUpdates, type BundleStore, storeRevocations } from '../../device/sync/downloads.ts';
import { SyncService } from '../../device/sync/sync-service.ts';
import { type BatchSender, Uploader } from '../../device/sync/uploader.ts';

const p = nobleProvider;
const device = p.ed25519Signer(new Uint8Array(32).fill(4));
const T0 = Date.UTC(2026, 10, 25, 12);
const MIN = 60_000;

async function setup(opts: { up?: boolean } = {}) {
  let now = T0;
  const journal = openSqliteJournal({ path: ':memory:' });
  const calls: string[] = [];
  const sent: number[] = [];
  const sender: BatchSender = {
    async uploadBatch(batchSeq, bytes) {
      calls.push('upload');
      sent.push(batchSeq);
      const b = decodeBatch(bytes)!;
      return { batchSeq, results: b.entries.map((e) => ({ debitId: utf8.decode(e.bytes), status: 'settled' as const })), voids: [] };
    },
  };
  const revs: Revocations = { version: 4, issuedAtMs: T0 - MIN, wallets: ['aa'.repeat(32)] };
  const api = {
    signedTime: vi.fn(async () => {
      calls.push('time');
      return T0 + 5 * MIN;
    }),
    revocations: vi.fn(async () => {
      calls.push('revocations');
      return revs;
    }),
    updates: vi.fn(async (): Promise<Updates> => {
      calls.push('updates');
      return { bundle: null, rejections: [] };
    }),
  };
  const clock = { applySignedTime: vi.fn(), nowMs: () => now };
  const link = new FakeConnectivity({ up: opts.up ?? false });
  await link.open();
  const indicator = new FakeIndicator();
  const uploader = new Uploader({ journal, sender, device, deviceKeyId: new Uint8Array(8), random: () => 0.5, timers: systemSyncTimers, maxAttempts: 1 });
  const bundles: BundleStore = { current: () => undefined, importVerified: vi.fn(), trusted: () => ({ authorities: new Set(), issuers: new Set() }) };
  const onNetworkTime = vi.fn();
  const service = new SyncService({
    connectivity: link,
    api,
    uploader,
    journal,
    bundles,
    clock,
    indicator,
    intervalMs: MIN,
    backlogAlertMs: 15 * MIN,
    timers: systemSyncTimers,
    log: silentLog,
    onNetworkTime,
  });
  let counter = 0;
  const pay = () => {
    const debitId = (counter++).toString(16).padStart(32, '0');
    journal.commitAccept(
      { debitId, walletKey: 'bb'.repeat(32), counter, amount: 100, currency: 'EUR', chargeId: null, acceptedAtMs: now, cardSerial: '1', record: utf8.encode(debitId), credentialExpiresAtMs: T0 + 86400_000 },
      { scanKey: debitId, atMs: now },
    );
  };
  return { journal, api, clock, link, indicator, service, calls, sent, pay, onNetworkTime, advance: (ms: number) => (now += ms) };
}

let open: Journal[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const j of open) j.close();
  open = [];
});

describe('SyncService', () => {
  it('link down: nothing is sent; a debit waiting > 15 min shows offline-backlog; link up settles it and the base returns to ready', async () => {
    const s = await setup({ up: false });
    open.push(s.journal);
    s.pay();
    await s.service.runOnce();
    expect(s.calls).toEqual([]);
    expect(s.indicator.base).toBe('ready');
    s.advance(16 * MIN);
    const r = await s.service.runOnce();
    expect(r.backlog).toMatchObject({ count: 1, alert: true });
    expect(s.indicator.base).toBe('offline-backlog');
    expect(s.calls).toEqual([]);

    s.link.setUp(true);
    const up = await s.service.runOnce();
    expect(s.calls).toEqual(['time', 'revocations', 'upload', 'updates']);
    expect(up).toMatchObject({ time: 'applied', revocations: 'stored', upload: { outcome: 'done' }, updates: { bundle: 'none' } });
    expect(s.clock.applySignedTime).toHaveBeenCalledWith(T0 + 5 * MIN);
    expect(s.journal.getMeta('revocations')).toEqual({ version: 4, issuedAtMs: T0 - MIN, wallets: ['aa'.repeat(32)] });
    expect(s.journal.counts()).toMatchObject({ settled: 1, pending: 0 });
    expect(s.indicator.base).toBe('ready');
  });

  it('modem network time is a hint only: it never reaches applySignedTime', async () => {
    const s = await setup({ up: false });
    open.push(s.journal);
    s.link.setNetworkTime(T0 + 3600_000);
    await s.service.runOnce();
    expect(s.onNetworkTime).toHaveBeenCalledWith(T0 + 3600_000);
    expect(s.clock.applySignedTime).not.toHaveBeenCalled();
  });

  it('a failing step is reported with its code and does not skip the upload', async () => {
    const s = await setup({ up: true });
    open.push(s.journal);
    s.api.signedTime.mockRejectedValueOnce(new BoxError('SYNC_BAD_SIGNATURE', 'forged', { retryable: true }));
    s.api.revocations.mockRejectedValueOnce(new Error('unexpected'));
    s.pay();
    const r = await s.service.runOnce();
    expect(r).toMatchObject({ time: 'SYNC_BAD_SIGNATURE', revocations: 'SYNC_INTERNAL', upload: { outcome: 'done' } });
    expect(s.journal.counts().settled).toBe(1);
  });

  it('runs every intervalMs once started; stop() cancels the loop', async () => {
    vi.useFakeTimers();
    const s = await setup({ up: true });
    open.push(s.journal);
    s.service.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(s.api.signedTime).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(MIN - 1);
    expect(s.api.signedTime).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(s.api.signedTime).toHaveBeenCalledTimes(2);
    s.pay();
    s.service.kick();
    await vi.advanceTimersByTimeAsync(0);
    expect(s.sent).toEqual([1]);
    await s.service.stop();
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(s.api.signedTime).toHaveBeenCalledTimes(3);
  });
});

describe('downloads', () => {
  it('storeRevocations never rolls back; a re-signed list of the same version refreshes issuedAtMs', () => {
    const j = openSqliteJournal({ path: ':memory:' });
    open.push(j);
    expect(storeRevocations(j, { version: 5, issuedAtMs: 100, wallets: ['b', 'a'] }, silentLog)).toBe('stored');
    expect(storeRevocations(j, { version: 4, issuedAtMs: 900, wallets: [] }, silentLog)).toBe('older');
    expect(storeRevocations(j, { version: 5, issuedAtMs: 100, wallets: ['a', 'b'] }, silentLog)).toBe('same');
    expect(storeRevocations(j, { version: 5, issuedAtMs: 200, wallets: ['a', 'b'] }, silentLog)).toBe('stored');
    expect(j.getMeta('revocations')).toEqual({ version: 5, issuedAtMs: 200, wallets: ['a', 'b'] });
  });

  it('applyUpdates: late rejections reach the journal; bad or untrusted bundles are refused, never stored', () => {
    const j = openSqliteJournal({ path: ':memory:' });
    open.push(j);
    const debitId = 'ab'.repeat(16);
    j.commitAccept(
      { debitId, walletKey: 'cc'.repeat(32), counter: 1, amount: 5, currency: 'EUR', chargeId: null, acceptedAtMs: 1, cardSerial: '1', record: new Uint8Array(4), credentialExpiresAtMs: 2 ** 40 },
      { scanKey: 'x', atMs: 1 },
    );
    const importVerified = vi.fn();
    const k = (n: number) => ({ keyId: n.toString(16).padStart(16, '0'), publicKey: 'ee'.repeat(32) });
    const bundle = { version: 1, merchantId: 'SHOP', ownCardSerial: 1, cards: ['QC:X'], merchantKeys: [{ keyId: '11'.repeat(8), package: '22'.repeat(80) }], authorities: [k(1)], issuers: [k(2)] };
    const store: BundleStore = { current: () => undefined, importVerified, trusted: () => ({ authorities: new Set([k(1).keyId]), issuers: new Set([k(2).keyId]) }) };

    const r1 = applyUpdates(j, store, { bundle: null, rejections: [{ debitId, code: 'INSUFFICIENT_FUNDS' }] }, silentLog);
    expect(r1).toMatchObject({ bundle: 'none', rejections: { applied: 1 } });
    expect(j.rejectedDebits(10).map((d) => [d.debitId, d.resultCode])).toEqual([[debitId, 'INSUFFICIENT_FUNDS']]);

    expect(applyUpdates(j, store, { bundle: { nope: 1 }, rejections: [] }, silentLog)).toMatchObject({ bundle: 'rejected', bundleError: 'UPDATE_BAD_BUNDLE' });
    expect(applyUpdates(j, store, { bundle: { ...bundle, issuers: [k(3)] }, rejections: [] }, silentLog)).toMatchObject({ bundle: 'rejected', bundleError: 'UPDATE_UNTRUSTED_KEY' });
    importVerified.mockImplementationOnce(() => {
      throw new BoxError('PROVISION_KEY_MISMATCH', 'not ours');
    });
    expect(applyUpdates(j, store, { bundle, rejections: [] }, silentLog)).toMatchObject({ bundle: 'rejected', bundleError: 'PROVISION_KEY_MISMATCH' });
    expect(applyUpdates(j, store, { bundle, rejections: [] }, silentLog)).toMatchObject({ bundle: 'stored' });
    const same: BundleStore = { ...store, current: () => JSON.stringify(bundle, null, 2) };
    expect(applyUpdates(j, same, { bundle, rejections: [] }, silentLog)).toMatchObject({ bundle: 'same' });
    expect(importVerified).toHaveBeenCalledTimes(2);
  });
});
