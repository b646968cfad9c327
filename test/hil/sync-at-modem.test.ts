/**
 * Reconciliation gated by the AT modem over a real pty (socat AT modem simulator): while the modem
 * is not registered nothing is sent; once registered the backlog is uploaded. Needs socat on PATH.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLog } from '../../drivers/common/log.ts';
import { FakeIndicator } from '../../drivers/indicator/fake.ts';
import { AtModem } from '../../drivers/modem/at-modem.ts';
import { nobleProvider } from '../../device/core/crypto/noble.ts';
import { utf8 } from '../../device/core/encoding/bytes.ts';
import { decodeBatch } from '../../device/core/protocol/batch.ts';
import { openSqliteJournal } from '../../device/journal/sqlite-journal.ts';
import type { Journal } from '../../device/journal/types.ts';
import { systemSyncTimers } from '../../device/sync/backoff.ts';
import { SyncService } from '../../device/sync/sync-service.ts';
import { type BatchSender, Uploader } from '../../device/sync/uploader.ts';
import { type AtModemSim, startAtModemSim } from '../support/at-modem-sim.ts';

function hasSocat(): boolean {
  try {
    execFileSync('socat', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!hasSocat())('sync gated by the AT modem on the socat pty simulator (needs socat)', () => {
  let dir: string;
  let sim: AtModemSim;
  let modem: AtModem;
  let journal: Journal;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sync-at-'));
    sim = await startAtModemSim({ dir, stat: 2 });
    modem = new AtModem({ path: sim.path, commandTimeoutMs: 2000 });
    await modem.open();
    journal = openSqliteJournal({ path: ':memory:' });
  });

  afterEach(async () => {
    await modem.close();
    await sim.stop();
    journal.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('link down (searching) -> nothing sent; registered -> the backlog is settled; NITZ is a hint only', async () => {
    for (let i = 0; i < 3; i++) {
      const debitId = i.toString(16).padStart(32, '0');
      journal.commitAccept(
        { debitId, walletKey: 'dd'.repeat(32), counter: i, amount: 100, currency: 'EUR', chargeId: null, acceptedAtMs: 1, cardSerial: '1', record: utf8.encode(debitId), credentialExpiresAtMs: 2 ** 40 },
        { scanKey: debitId, atMs: 1 },
      );
    }
    const sent: number[] = [];
    const sender: BatchSender = {
      async uploadBatch(batchSeq, bytes) {
        sent.push(batchSeq);
        const b = decodeBatch(bytes)!;
        return { batchSeq, results: b.entries.map((e) => ({ debitId: utf8.decode(e.bytes), status: 'settled' as const })), voids: [] };
      },
    };
    const api = { signedTime: vi.fn(async () => Date.UTC(2026, 10, 25, 12)), revocations: vi.fn(), updates: vi.fn(async () => ({ bundle: null, rejections: [] })) };
    api.revocations.mockRejectedValue(new Error('not under test'));
    const clock = { applySignedTime: vi.fn(), nowMs: () => Date.UTC(2026, 10, 25, 12) };
    const onNetworkTime = vi.fn();
    const service = new SyncService({
      connectivity: modem,
      api,
      uploader: new Uploader({ journal, sender, device: nobleProvider.ed25519Signer(new Uint8Array(32).fill(2)), deviceKeyId: new Uint8Array(8), random: Math.random, timers: systemSyncTimers }),
      journal,
      bundles: { current: () => undefined, importVerified: () => {}, trusted: () => ({ authorities: new Set(), issuers: new Set() }) },
      clock,
      indicator: new FakeIndicator(),
      intervalMs: 60_000,
      backlogAlertMs: 15 * 60_000,
      timers: systemSyncTimers,
      log: silentLog,
      onNetworkTime,
    });

    const down = await service.runOnce();
    expect(down.link).toMatchObject({ up: false, registration: 'searching', code: 'MODEM_NOT_REGISTERED' });
    expect(sent).toEqual([]);
    expect(api.signedTime).not.toHaveBeenCalled();
    expect(journal.counts().pending).toBe(3);

    sim.set({ stat: 1 });
    const up = await service.runOnce();
    expect(up.link).toMatchObject({ up: true, registration: 'home' });
    expect(sent).toEqual([1]);
    expect(journal.counts()).toMatchObject({ settled: 3, pending: 0 });
    expect(onNetworkTime).toHaveBeenCalledWith(Date.UTC(2026, 10, 25, 10));
    expect(clock.applySignedTime.mock.calls).toEqual([[Date.UTC(2026, 10, 25, 12)]]);
  });
});
