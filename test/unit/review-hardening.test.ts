/**
 * Review fixes: nested redaction at the logger, a throwing paid/declined listener after the commit,
 * torn public files read without a raw SyntaxError, and label prefixes that callers cannot share.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeIndicator } from '../../drivers/indicator/fake.ts';
import { FakeConnectivity } from '../../drivers/modem/fake.ts';
import { silentLog } from '../../drivers/common/log.ts';
import { Acceptor } from '../../device/app/acceptor.ts';
import { BoxClock } from '../../device/app/clock.ts';
import { readBackendPin } from '../../device/app/commands/backend-pin.ts';
import { createLogger } from '../../device/app/logger.ts';
import { loadProvisioned } from '../../device/app/provision.ts';
import { isBoxError } from '../../device/core/errors.ts';
import { labelPrefix } from '../../device/core/protocol/labels.ts';
import { DEFAULT_POLICY } from '../../device/core/views.ts';
import { createNodeProvider } from '../../device/crypto/node-provider.ts';
import { openSqliteJournal } from '../../device/journal/sqlite-journal.ts';
import type { KeyStore } from '../../device/keys/types.ts';
import { systemSyncTimers } from '../../device/sync/backoff.ts';
import { SyncService } from '../../device/sync/sync-service.ts';
import { Uploader } from '../../device/sync/uploader.ts';
import { makeWorld, T0 } from '../support/world.ts';

const p = createNodeProvider();
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = (prefix: string): string => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};

/** A key store whose public area holds `text` under every name (only readPublic is used here). */
const storeWithPublic = (text: string): KeyStore => ({ readPublic: () => text, hasKeys: () => true }) as unknown as KeyStore;

describe('logger redaction one level down', () => {
  it('redacts secret fields nested in an object, and the seed/token names the code uses', () => {
    const file = join(tempDir('log-'), 'out.log');
    const log = createLogger('info', file);
    log.info({ wallet: { seed: 'S1'.repeat(8), key: 'K1'.repeat(8), token: 'T1'.repeat(8) }, scan: { text: 'QP:ENVELOPE' }, debit: { record: 'R1'.repeat(8) }, deviceSeed: 'D1'.repeat(8), enrolToken: 'E1'.repeat(8), debitId: 'keep-me' }, 'x');
    const line = readFileSync(file, 'utf8');
    for (const s of ['S1S1', 'K1K1', 'T1T1', 'QP:ENVELOPE', 'R1R1', 'D1D1', 'E1E1']) expect(line).not.toContain(s);
    expect(line).toContain('keep-me');
  });
});

describe('Acceptor listeners after the commit', () => {
  function setup(paid: () => void) {
    const journal = openSqliteJournal({ path: join(tempDir('acc-'), 'journal.db') });
    const w = makeWorld(p);
    const clock = new BoxClock({ wallNow: () => T0, monoNow: () => 0, loadLastKnownGood: () => T0, saveLastKnownGood: () => {}, floorMs: 0 });
    const indicator = new FakeIndicator();
    const acceptor = new Acceptor({
      p,
      journal,
      keys: w.keysOf(w.shopA, 0),
      issuers: w.issuers,
      clock,
      indicator,
      log: silentLog,
      policy: DEFAULT_POLICY,
      repeatWindowMs: 4000,
      amountSource: () => ({ kind: 'fixed', amount: 12_50, currency: 'EUR' }),
      revocations: () => ({ version: 3, issuedAtMs: T0 - 1000, isRevoked: () => false }),
      closeSession: () => {},
      events: { paid, declined: () => { throw new Error('declined listener broke'); } },
    });
    return { w, acceptor, journal };
  }

  it('a throwing paid listener still returns the committed accept', () => {
    const s = setup(() => {
      throw new Error('charge book broke');
    });
    const { text } = s.w.wallet(1).pay(s.w.shopA.cards[0]!, 12_50);
    const out = s.acceptor.handleScan(text);
    expect(out.kind).toBe('accept');
    expect(s.journal.counts().pending).toBe(1);
    s.journal.close();
  });

  it('a throwing declined listener still returns the decline', () => {
    const s = setup(() => {});
    const out = s.acceptor.handleScan('QP:not base45 !!');
    expect(out.kind).toBe('decline');
    s.journal.close();
  });
});

describe('torn public files', () => {
  it('readBackendPin treats text that is not JSON as not pinned', () => {
    expect(readBackendPin(storeWithPublic('{"url": "http://x'))).toBeUndefined();
  });

  it('loadProvisioned reports a torn bundle as PROVISION_BAD_BUNDLE, not a SyntaxError', () => {
    let caught: unknown;
    try {
      loadProvisioned(storeWithPublic('{ torn'), p, Math.floor(T0 / 1000));
    } catch (e) {
      caught = e;
    }
    expect(isBoxError(caught) && caught.code).toBe('PROVISION_BAD_BUNDLE');
  });
});

describe('labelPrefix', () => {
  it('returns a fresh array: writing into one does not change the next', () => {
    const a = labelPrefix('qrpay/v1/pay');
    a.fill(0);
    const b = labelPrefix('qrpay/v1/pay');
    expect(b[0]).toBe('q'.charCodeAt(0));
    expect(b[b.length - 1]).toBe(0);
    expect(b.length).toBe('qrpay/v1/pay'.length + 1);
  });
});

describe('SyncService schedule', () => {
  it('a round that throws (indicator.setBase) is logged and the next round is still scheduled', async () => {
    vi.useFakeTimers();
    try {
      const journal = openSqliteJournal({ path: ':memory:' });
      const link = new FakeConnectivity({ up: false });
      await link.open();
      const check = vi.spyOn(link, 'check');
      const device = p.ed25519Signer(new Uint8Array(32).fill(4));
      const uploader = new Uploader({ journal, sender: { uploadBatch: async () => ({ batchSeq: 0, results: [], voids: [] }) }, device, deviceKeyId: new Uint8Array(8), random: () => 0.5, timers: systemSyncTimers });
      const errors: string[] = [];
      const log = { ...silentLog, error: (o: { event?: string }) => errors.push(String(o.event)), child: () => log } as unknown as typeof silentLog;
      const service = new SyncService({
        connectivity: link,
        api: { signedTime: async () => T0, revocations: async () => ({ version: 1, issuedAtMs: T0, wallets: [] }), updates: async () => ({ bundle: null, rejections: [] }) },
        uploader,
        journal,
        bundles: { current: () => undefined, importVerified: () => {}, trusted: () => ({ authorities: new Set(), issuers: new Set() }) },
        clock: { applySignedTime: () => {}, nowMs: () => T0 },
        indicator: {
          setBase: () => {
            throw new Error('led gone');
          },
        },
        intervalMs: 60_000,
        backlogAlertMs: 15 * 60_000,
        timers: systemSyncTimers,
        log,
      });
      service.start();
      await vi.advanceTimersByTimeAsync(0);
      expect(errors).toContain('sync.round-failed');
      await vi.advanceTimersByTimeAsync(60_000);
      expect(check.mock.calls.length).toBe(2);
      await service.stop();
      journal.close();
    } finally {
      vi.useRealTimers();
    }
  });
});
