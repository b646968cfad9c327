/**
 * Key rollover on the box (issue 5 "Renewed cards and keys, and new issuer keys"): statements in
 * `keyRollovers` of GET /v1/box/updates are checked against a key the box already trusts for that
 * role, persisted into the stored enrolment bundle, and used by the running box (decide() reads
 * the same issuer map). Runs against the real reference back end over loopback HTTP.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Log } from '../../drivers/common/log.ts';
import { silentLog } from '../../drivers/common/log.ts';
import { FakeIndicator } from '../../drivers/indicator/fake.ts';
import { FakeConnectivity } from '../../drivers/modem/fake.ts';
import type { BoxIdentity } from '../../device/app/box-identity.ts';
import { BUNDLE_NAME, enrolmentRequest, importBundle, loadProvisioned } from '../../device/app/provision.ts';
import { fromHex, toHex } from '../../device/core/encoding/bytes.ts';
import { keyId } from '../../device/core/protocol/labels.ts';
import { openSqliteJournal } from '../../device/journal/sqlite-journal.ts';
import type { Journal } from '../../device/journal/types.ts';
import { FileKeyStore } from '../../device/keys/file-keystore.ts';
import type { KeyStore } from '../../device/keys/types.ts';
import { systemSyncTimers } from '../../device/sync/backoff.ts';
import { SyncClient } from '../../device/sync/client.ts';
import { applyUpdates, type BundleStore } from '../../device/sync/downloads.ts';
import { bundleKeyStore, checkRollover, rolloverMessage } from '../../device/sync/key-rollover.ts';
import { SyncService } from '../../device/sync/sync-service.ts';
import { Uploader } from '../../device/sync/uploader.ts';
import { rolloverMessage as backendRolloverMessage } from '../../backend/lib/signed.ts';
import type { EnrolmentBundle } from '../../backend/lib/enrolment.ts';
import { ENROL, type Fixture, startFixture, type TestBox } from '../../backend/testing/http-fixture.ts';

const SHOP = { merchantId: 'SHOP-RO', displayName: 'Rollover Bakery', currency: 'EUR', location: { lat: 48.1, lon: 11.5 } };

let f: Fixture;
let dirs: string[] = [];
let closers: (() => void)[] = [];

beforeEach(async () => {
  f = await startFixture();
});
afterEach(async () => {
  for (const c of closers) c();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  closers = [];
  dirs = [];
  await f.close();
});

interface StoredBox {
  store: KeyStore;
  identity: BoxIdentity;
  client: SyncClient;
  journal: Journal;
  bundles: BundleStore;
  /** For the fixture's pay(): decide() with this box's live issuer map. */
  testBox: TestBox;
}

const nowSec = () => Math.floor(f.clock.ms / 1000);

/** A box provisioned the way `scanner provision` does it: keys and bundle in a FileKeyStore. */
async function enrolStoredBox(): Promise<StoredBox> {
  const dir = mkdtempSync(join(tmpdir(), 'qrpay-rollover-'));
  dirs.push(dir);
  const store = new FileKeyStore({ stateDir: dir });
  const r = await f.http('POST', '/v1/enrol', enrolmentRequest(store, f.p, SHOP), ENROL);
  expect(r.status).toBe(200);
  const { backendKey, ...bundle } = r.body as unknown as EnrolmentBundle & { backendKey: { keyId: string; publicKey: string } };
  const identity = importBundle(store, f.p, bundle, nowSec());
  const client = new SyncClient({
    baseUrl: f.base,
    p: f.p,
    device: identity.device,
    deviceKeyId: identity.deviceKeyId,
    backendKey: { keyId: backendKey.keyId, publicKey: fromHex(backendKey.publicKey) },
    issuers: () => identity.issuers,
    timeoutMs: 5000,
  });
  const journal = openSqliteJournal({ path: ':memory:' });
  closers.push(() => client.close(), () => journal.close());
  // The same wiring as device/sync/start-sync.ts.
  const bundles: BundleStore = {
    current: () => store.readPublic(BUNDLE_NAME),
    importVerified: (b) => {
      importBundle(store, f.p, b, nowSec());
    },
    trusted: () => ({ authorities: new Set(identity.authorities.keys()), issuers: new Set(identity.issuers.keys()) }),
    keys: { p: f.p, ...bundleKeyStore(store, identity) },
  };
  const replay = new Set<string>();
  const testBox = {
    identity,
    bundle,
    secrets: { identity: [], deviceSeed: new Uint8Array(0) },
    backendKey,
    client: undefined as never,
    replay: { has: (w: string, c: number) => replay.has(`${w}/${c}`), unsyncedSpend: () => 0, add: (w: string, c: number) => replay.add(`${w}/${c}`) },
    nextSeq: 1,
    revocations: { version: 0, issuedAtMs: f.clock.ms, wallets: new Set<string>() },
  } satisfies TestBox;
  return { store, identity, client, journal, bundles, testBox };
}

function recordingLog() {
  const lines: { level: string; obj: Record<string, unknown> }[] = [];
  const log: Log = {
    debug: (obj) => lines.push({ level: 'debug', obj: obj as Record<string, unknown> }),
    info: (obj) => lines.push({ level: 'info', obj: obj as Record<string, unknown> }),
    warn: (obj) => lines.push({ level: 'warn', obj: obj as Record<string, unknown> }),
    error: (obj) => lines.push({ level: 'error', obj: obj as Record<string, unknown> }),
    child: () => log,
  };
  return { log, lines };
}

const trustedIds = (b: StoredBox) => ({ authorities: [...b.identity.authorities.keys()], issuers: [...b.identity.issuers.keys()] });

describe('key rollover on the box', () => {
  it('the box builds the same signed bytes as the back end', () => {
    const key = f.p.randomBytes(32);
    for (const role of ['authority', 'issuer', 'time'] as const) {
      expect(toHex(rolloverMessage(role, key, f.clock.ms))).toBe(toHex(backendRolloverMessage(role, key, f.clock.ms)));
    }
  });

  it('a new issuer key signed by the old one is applied, persisted, and a credential from the NEW key is then accepted by decide()', async () => {
    const box = await enrolStoredBox();
    const oldIssuer = [...box.identity.issuers.keys()];
    expect((await f.http('POST', '/v1/authority/keys/issuer/rollover')).status).toBe(200);
    const carol = await f.newWallet('carol', 100_00);
    const newIssuerId = toHex(carol.credential.issuerKeyId);
    expect(oldIssuer).not.toContain(newIssuerId);
    expect(() => f.pay(box.testBox, carol, 1_50)).toThrow(/UNKNOWN_ISSUER/);

    const { log, lines } = recordingLog();
    const out = applyUpdates(box.journal, box.bundles, await box.client.updates(), log);
    expect(out.rollovers).toEqual({ applied: [{ role: 'issuer', keyId: newIssuerId }], known: 0, refused: [] });
    expect(out.bundle).toBe('stored'); // the renewed bundle lists the new key: trusted by now
    expect(lines.some((l) => l.obj.event === 'sync.rollover-applied' && l.obj.newKeyId === newIssuerId)).toBe(true);

    // The running box uses it at once (same map as the Acceptor's), no restart.
    expect(box.identity.issuers.has(newIssuerId)).toBe(true);
    expect(f.pay(box.testBox, carol, 1_50)).toMatchObject({ kind: 'accept', amount: 1_50 });
    // The revocation list, now signed by the new issuer key, verifies.
    await expect(box.client.revocations()).resolves.toMatchObject({ wallets: [] });
    // And the next start trusts it from the stored bundle.
    const reloaded = loadProvisioned(box.store, f.p, nowSec()).identity;
    expect([...reloaded.issuers.keys()].sort()).toEqual([...oldIssuer, newIssuerId].sort());

    // The back end keeps sending its history: applying it again changes nothing.
    const before = box.store.readPublic(BUNDLE_NAME);
    const again = applyUpdates(box.journal, box.bundles, await box.client.updates(), silentLog);
    expect(again.rollovers).toEqual({ applied: [], known: 1, refused: [] });
    expect(box.store.readPublic(BUNDLE_NAME)).toBe(before);
  });

  it('a chain of rollovers (A signs B, B signs C) is applied in one pass', async () => {
    const box = await enrolStoredBox();
    await f.http('POST', '/v1/authority/keys/issuer/rollover');
    await f.http('POST', '/v1/authority/keys/issuer/rollover');
    const dave = await f.newWallet('dave', 100_00);
    const out = applyUpdates(box.journal, box.bundles, await box.client.updates(), silentLog);
    expect(out.rollovers.applied).toHaveLength(2);
    expect(out.rollovers.applied[1]).toEqual({ role: 'issuer', keyId: toHex(dave.credential.issuerKeyId) });
    expect(box.identity.issuers.size).toBe(3);
    expect(f.pay(box.testBox, dave, 2_00).kind).toBe('accept');
  });

  it('a renewed bundle naming a new authority key is refused without its rollover statement and accepted with it', async () => {
    const box = await enrolStoredBox();
    const storedBefore = box.store.readPublic(BUNDLE_NAME);
    const ro = await f.http('POST', '/v1/authority/keys/authority/rollover');
    expect(ro.status).toBe(200);
    const u = await box.client.updates();
    const bundle = u.bundle as EnrolmentBundle;
    const newAuthority = bundle.authorities[0]!.keyId;
    expect(box.identity.authorities.has(newAuthority)).toBe(false);

    const without = applyUpdates(box.journal, box.bundles, { ...u, keyRollovers: [] }, silentLog);
    expect(without).toMatchObject({ bundle: 'rejected', bundleError: 'UPDATE_UNTRUSTED_KEY' });
    expect(box.store.readPublic(BUNDLE_NAME)).toBe(storedBefore);

    const withIt = applyUpdates(box.journal, box.bundles, u, silentLog);
    expect(withIt.rollovers.applied).toEqual([{ role: 'authority', keyId: newAuthority }]);
    expect(withIt.bundle).toBe('stored');
    expect(JSON.parse(box.store.readPublic(BUNDLE_NAME)!)).toEqual(bundle);
    const reloaded = loadProvisioned(box.store, f.p, nowSec()).identity;
    expect(reloaded.authorities.has(newAuthority)).toBe(true);
  });

  it('forged, cross-role, unknown-role and malformed statements are refused with a code and change nothing', async () => {
    const box = await enrolStoredBox();
    const storedBefore = box.store.readPublic(BUNDLE_NAME);
    const idsBefore = trustedIds(box);
    const [issuerId] = [...box.identity.issuers.keys()];
    const attacker = f.p.ed25519Signer(f.p.randomBytes(32));
    const fresh = f.p.ed25519Signer(f.p.randomBytes(32)).publicKey;
    const freshId = toHex(keyId(f.p, fresh));
    const at = f.clock.ms;
    const stmt = (role: string, oldKeyId: string, signRole: 'authority' | 'issuer' | 'time' = role as 'issuer') => ({
      role,
      oldKeyId,
      newKeyId: freshId,
      newPublicKey: toHex(fresh),
      issuedAtMs: at,
      signature: toHex(attacker.sign(rolloverMessage(signRole, fresh, at))),
    });
    const attackerId = toHex(keyId(f.p, attacker.publicKey));
    const statements: unknown[] = [
      stmt('issuer', attackerId), // signed by a key the box does not trust
      stmt('issuer', issuerId!), // names the trusted issuer, but the signature is not its
      stmt('authority', issuerId!, 'authority'), // an issuer key cannot vouch for an authority key
      stmt('time', attackerId, 'time'), // the back-end key is pinned in the config, not rolled here
      { ...stmt('issuer', issuerId!), newKeyId: '00'.repeat(8) }, // id does not match the key
      { role: 'issuer' },
      null,
      'QC:nonsense',
      { ...stmt('issuer', issuerId!), issuedAtMs: 2 ** 60 },
    ];
    const { log, lines } = recordingLog();
    // The bundle naming the forged key is refused as well.
    const bundle = { ...(JSON.parse(storedBefore!) as EnrolmentBundle) };
    bundle.issuers = [{ keyId: freshId, publicKey: toHex(fresh) }, ...bundle.issuers];
    const out = applyUpdates(box.journal, box.bundles, { bundle, rejections: [], keyRollovers: statements }, log);
    expect(out.rollovers.applied).toEqual([]);
    expect(out.rollovers.refused.map((r) => r.code)).toEqual([
      'ROLLOVER_UNTRUSTED_SIGNER',
      'ROLLOVER_BAD_SIGNATURE',
      'ROLLOVER_UNTRUSTED_SIGNER',
      'ROLLOVER_UNKNOWN_ROLE',
      'ROLLOVER_MALFORMED',
      'ROLLOVER_MALFORMED',
      'ROLLOVER_MALFORMED',
      'ROLLOVER_MALFORMED',
      'ROLLOVER_MALFORMED',
    ]);
    expect(out).toMatchObject({ bundle: 'rejected', bundleError: 'UPDATE_UNTRUSTED_KEY' });
    const refusedLines = lines.filter((l) => l.obj.event === 'sync.rollover-refused');
    expect(refusedLines).toHaveLength(statements.length);
    expect(refusedLines.every((l) => l.level === 'error' && typeof l.obj.code === 'string')).toBe(true);
    expect(box.store.readPublic(BUNDLE_NAME)).toBe(storedBefore);
    expect(trustedIds(box)).toEqual(idsBefore);
  });

  it('a key whose write fails is not trusted by the running box either', async () => {
    const box = await enrolStoredBox();
    await f.http('POST', '/v1/authority/keys/issuer/rollover');
    const u = await box.client.updates();
    const failing = new Proxy(box.store, {
      get(target, prop, receiver) {
        if (prop === 'writePublic') return () => {
          throw Object.assign(new Error('disk full'), { code: 'KEY_IO' });
        };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const bundles: BundleStore = { ...box.bundles, keys: { p: f.p, ...bundleKeyStore(failing, box.identity) } };
    const before = trustedIds(box);
    const out = applyUpdates(box.journal, bundles, { ...u, bundle: null }, silentLog);
    expect(out.rollovers.refused).toEqual([{ code: 'ROLLOVER_PERSIST_FAILED', keyId: expect.stringMatching(/^[0-9a-f]{16}$/) }]);
    expect(trustedIds(box)).toEqual(before);
  });

  it('checkRollover never throws on hostile input', () => {
    const trusted = { authorities: new Map(), issuers: new Map() };
    for (const raw of [undefined, 0, [], {}, { role: 'issuer', oldKeyId: 'zz' }, { __proto__: { role: 'issuer' } }, 'x'.repeat(65536)]) {
      expect(checkRollover(f.p, trusted, raw).kind).toBe('refuse');
    }
  });

  it('a sync round applies an issuer rollover and then fetches the revocation list the new key signed', async () => {
    const box = await enrolStoredBox();
    await f.http('POST', '/v1/authority/keys/issuer/rollover');
    const link = new FakeConnectivity({ up: true });
    await link.open();
    const uploader = new Uploader({ journal: box.journal, sender: box.client, device: box.identity.device, deviceKeyId: box.identity.deviceKeyId, random: () => 0, timers: systemSyncTimers });
    const service = new SyncService({
      connectivity: link,
      api: box.client,
      uploader,
      journal: box.journal,
      bundles: box.bundles,
      clock: { applySignedTime: vi.fn(), nowMs: () => f.clock.ms },
      indicator: new FakeIndicator(),
      intervalMs: 60_000,
      backlogAlertMs: 15 * 60_000,
      timers: systemSyncTimers,
      log: silentLog,
    });
    const r = await service.runOnce();
    expect(r.updates).toMatchObject({ bundle: 'stored', rollovers: { applied: [{ role: 'issuer' }] } });
    expect(r.revocations).toBe('stored');
    expect(box.journal.getMeta('revocations')).toMatchObject({ wallets: [] });
  });
});
