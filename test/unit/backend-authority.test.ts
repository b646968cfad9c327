/**
 * Box authentication, signed time and revocations, key authority lifecycle (renewal, rotation,
 * revocation, key rollover), directory and hostile requests, over real HTTP on 127.0.0.1.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../device/core/encoding/bytes.ts';
import { loadBoxIdentity } from '../../device/app/box-identity.ts';
import { verifySnapshot, lookupSnapshot, type DirectorySnapshot } from '../../backend/lib/directory.ts';
import { revocationsMessage, rolloverMessage, timeMessage } from '../../backend/lib/signed.ts';
import type { EnrolmentBundle } from '../../backend/lib/enrolment.ts';
import { BoxClient } from '../../backend/client/box-client.ts';
import { type Fixture, startFixture } from '../../backend/testing/http-fixture.ts';

const SHOP_A = {
  merchantId: 'SHOP-A',
  displayName: 'Shop A',
  currency: 'EUR',
  location: { lat: 52.52, lon: 13.405 },
  cellIds: ['262-01-1a2b-00c3d4'],
  bssids: ['aa:bb:cc:dd:ee:01'],
};
const SHOP_B = { merchantId: 'SHOP-B', displayName: 'Shop B', currency: 'EUR', location: { lat: 48.137, lon: 11.575 }, bssids: ['aa:bb:cc:dd:ee:02'] };

let f: Fixture;
beforeEach(async () => {
  f = await startFixture();
});
afterEach(async () => {
  await f.close();
});

describe('box authentication', () => {
  it('refuses an unknown box, a revoked box, a bad signature and a reused nonce', async () => {
    const box = await f.enrolBox(SHOP_A);
    expect((await box.client.request('GET', '/v1/box/revocations')).status).toBe(200);

    const stranger = new BoxClient(f.p, f.base, f.p.ed25519Signer(new Uint8Array(32).fill(9)));
    expect((await stranger.request('GET', '/v1/box/revocations')).body).toMatchObject({ error: 'UNKNOWN_BOX' });

    const bad = await box.client.request('GET', '/v1/box/revocations', undefined, (h) => {
      h['x-box-signature'] = `${h['x-box-signature']!.slice(0, 127)}${h['x-box-signature']!.endsWith('0') ? '1' : '0'}`;
    });
    expect([bad.status, (bad.body as { error: string }).error]).toEqual([401, 'BAD_AUTH']);

    // Signed for another path: the signature binds method and path.
    const moved = await box.client.request('GET', '/v1/box/revocations', undefined, (h) => {
      h['x-box-signature'] = toHex(box.identity.device.sign(new Uint8Array(3)));
    });
    expect(moved.status).toBe(401);

    let captured: Record<string, string> = {};
    await box.client.request('GET', '/v1/box/revocations', undefined, (h) => {
      captured = { ...h };
    });
    const replay = await fetch(`${f.base}/v1/box/revocations`, { headers: captured });
    expect([replay.status, ((await replay.json()) as { error: string }).error]).toEqual([401, 'BAD_NONCE']);

    const expired = await box.client.nonce();
    f.clock.ms += 61_000;
    const late = await box.client.request('GET', '/v1/box/revocations', undefined, (h) => {
      h['x-box-nonce'] = expired;
    });
    expect((late.body as { error: string }).error).toMatch(/BAD_AUTH|BAD_NONCE/);

    expect((await f.http('POST', `/v1/authority/boxes/${box.client.keyIdHex}/revoke`)).status).toBe(200);
    const revoked = await box.client.request('GET', '/v1/box/revocations');
    expect([revoked.status, (revoked.body as { error: string }).error]).toEqual([403, 'BOX_REVOKED']);
  });
});

describe('signed documents', () => {
  it('signs the time over the box nonce with the key handed out at enrolment', async () => {
    const box = await f.enrolBox(SHOP_A);
    const nonce = f.p.randomBytes(16);
    const r = await box.client.request('GET', `/v1/box/time?nonce=${toHex(nonce)}`);
    const t = r.body as { timeMs: number; keyId: string; signature: string };
    expect(t.timeMs).toBe(f.clock.ms);
    expect(t.keyId).toBe(box.backendKey.keyId);
    const key = fromHex(box.backendKey.publicKey);
    expect(f.p.ed25519Verify(key, timeMessage(nonce, t.timeMs), fromHex(t.signature))).toBe(true);
    expect(f.p.ed25519Verify(key, timeMessage(f.p.randomBytes(16), t.timeMs), fromHex(t.signature))).toBe(false);
    expect((await box.client.request('GET', '/v1/box/time?nonce=zz')).status).toBe(400);
  });

  it('signs the revocation list with the issuer key the box trusts', async () => {
    const box = await f.enrolBox(SHOP_A);
    const w1 = 'cd'.repeat(32);
    const w2 = 'ab'.repeat(32);
    await f.http('POST', '/v1/issuer/revoke', { walletPublicKey: w1 });
    expect((await f.http('POST', '/v1/issuer/revoke', { walletPublicKey: w2 })).body.version).toBe(2);
    const r = (await box.client.request('GET', '/v1/box/revocations')).body as { version: number; issuedAtMs: number; wallets: string[]; keyId: string; signature: string };
    expect(r.version).toBe(2);
    expect(r.wallets).toEqual([w2, w1]);
    const issuer = box.identity.issuers.get(r.keyId)!;
    expect(f.p.ed25519Verify(issuer, revocationsMessage(f.p, r.version, r.issuedAtMs, r.wallets), fromHex(r.signature))).toBe(true);
    expect(f.p.ed25519Verify(issuer, revocationsMessage(f.p, r.version, r.issuedAtMs, [w1]), fromHex(r.signature))).toBe(false);
  });
});

describe('key authority', () => {
  it('gives every till the merchant key and the roster of all tills (multi-till rule)', async () => {
    const till1 = await f.enrolBox(SHOP_A);
    const till2 = await f.enrolBox(SHOP_A);
    expect(till2.bundle.cards).toHaveLength(2);
    expect([...till2.identity.decryptionKeys.keys()]).toEqual([...till1.identity.decryptionKeys.keys()]);
    const u = (await till1.client.request('GET', '/v1/box/updates')).body as { bundle: EnrolmentBundle | null };
    expect(u.bundle?.cards).toHaveLength(2); // till1 learns about till2
    expect(((await till1.client.request('GET', '/v1/box/updates')).body as { bundle: unknown }).bundle).toBeNull();
  });

  it('renews a card that expires within 30 days, and rotates the merchant key keeping the previous one', async () => {
    const box = await f.enrolBox(SHOP_A);
    const ownBefore = box.identity.ownCard.serial;
    expect(((await box.client.request('GET', '/v1/box/updates')).body as { bundle: unknown }).bundle).toBeNull();
    f.clock.ms += 340 * 86400_000;
    const renewed = ((await box.client.request('GET', '/v1/box/updates')).body as { bundle: EnrolmentBundle }).bundle;
    expect(renewed.ownCardSerial).not.toBe(ownBefore);
    const nowSec = () => Math.floor(f.clock.ms / 1000);
    expect(loadBoxIdentity(f.p, renewed, box.secrets, nowSec()).ownCard.serial).toBe(renewed.ownCardSerial);

    const rot = await f.http('POST', '/v1/authority/merchants/SHOP-A/rotate');
    const rotated = ((await box.client.request('GET', '/v1/box/updates')).body as { bundle: EnrolmentBundle }).bundle;
    expect(rotated.merchantKeys.map((k) => k.keyId)).toEqual([rot.body.keyId, box.bundle.merchantKeys[0]!.keyId]);
    expect(rotated.ownCardSerial).not.toBe(renewed.ownCardSerial);
    expect(rotated.cards.length).toBeGreaterThanOrEqual(2); // the card of the previous key stays in the roster
    const id = loadBoxIdentity(f.p, rotated, box.secrets, nowSec());
    expect([...id.decryptionKeys.keys()]).toEqual(rotated.merchantKeys.map((k) => k.keyId));
  });

  it('distributes a new issuer key signed by the old one', async () => {
    const box = await f.enrolBox(SHOP_A);
    const oldIssuer = [...box.identity.issuers.entries()][0]!;
    const ro = await f.http('POST', '/v1/authority/keys/issuer/rollover');
    expect(ro.status).toBe(200);
    const u = (await box.client.request('GET', '/v1/box/updates')).body as {
      bundle: EnrolmentBundle;
      keyRollovers: { role: 'issuer'; oldKeyId: string; newKeyId: string; newPublicKey: string; issuedAtMs: number; signature: string }[];
    };
    const r = u.keyRollovers[0]!;
    expect(r.oldKeyId).toBe(oldIssuer[0]);
    expect(f.p.ed25519Verify(oldIssuer[1], rolloverMessage('issuer', fromHex(r.newPublicKey), r.issuedAtMs), fromHex(r.signature))).toBe(true);
    expect(u.bundle.issuers.map((i) => i.keyId)).toEqual([r.newKeyId, r.oldKeyId]);
    const rev = (await box.client.request('GET', '/v1/box/revocations')).body as { keyId: string };
    expect(rev.keyId).toBe(r.newKeyId);
  });

  it('refuses a bad enrolment token or body', async () => {
    const box = await f.enrolBox(SHOP_A);
    expect((await f.http('POST', '/v1/enrol', { version: 1 }, 'enrol-token-for-tests')).body.error).toBe('BAD_REQUEST');
    expect((await f.http('POST', '/v1/enrol', { version: 1 }, 'wrong')).status).toBe(401);
    // The same box enrolling again (a lost answer) gets its bundle again, not a second card.
    const { identity, bundle, ...rest } = box;
    expect(rest.backendKey.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(identity.ownCard.serial).toBe(bundle.ownCardSerial);
  });
});

describe('merchant directory', () => {
  it('finds merchants by GPS, cell id and BSSID, and signs a snapshot a phone can use offline', async () => {
    await f.enrolBox(SHOP_A);
    await f.enrolBox(SHOP_B);
    const near = await f.http('GET', '/v1/directory/lookup?lat=52.5201&lon=13.4051&radius_m=500', undefined, null);
    const merchants = near.body.merchants as { merchantId: string; cards: string[]; distance_m: number }[];
    expect(merchants.map((m) => m.merchantId)).toEqual(['SHOP-A']);
    expect(merchants[0]!.distance_m).toBeLessThan(50);
    expect(merchants[0]!.cards[0]).toMatch(/^QC:/);
    const cell = await f.http('GET', '/v1/directory/lookup?cell=262-01-1a2b-00c3d4', undefined, null);
    expect((cell.body.merchants as { merchantId: string }[]).map((m) => m.merchantId)).toEqual(['SHOP-A']);
    const wifi = await f.http('GET', '/v1/directory/lookup?bssid=AA:BB:CC:DD:EE:02', undefined, null);
    expect((wifi.body.merchants as { merchantId: string }[]).map((m) => m.merchantId)).toEqual(['SHOP-B']);
    const far = await f.http('GET', '/v1/directory/lookup?lat=0&lon=0&radius_m=1000', undefined, null);
    expect(far.body.merchants).toEqual([]);

    const snap = (await f.http('GET', '/v1/directory/snapshot', undefined, null)).body as unknown as DirectorySnapshot;
    const authorities = new Map((await f.enrolBox(SHOP_A)).bundle.authorities.map((a) => [a.keyId, fromHex(a.publicKey)]));
    expect(verifySnapshot(f.p, snap, authorities, fromHex)).not.toBeNull();
    expect(lookupSnapshot(snap, { lat: 48.137, lon: 11.575, radiusM: 100 }).map((m) => m.merchantId)).toEqual(['SHOP-B']);
    expect(lookupSnapshot(snap, { cell: '262-01-1a2b-00c3d4' }).map((m) => m.merchantId)).toEqual(['SHOP-A']);
    const forged = { ...snap, entries: snap.entries.map((e) => ({ ...e, merchantId: 'EVIL' })) };
    expect(verifySnapshot(f.p, forged, authorities, fromHex)).toBeNull();
  });
});

describe('hostile requests', () => {
  it('answers malformed input with 4xx codes and never crashes', async () => {
    const cases: [string, string, unknown, string | null, number, string][] = [
      ['POST', '/v1/issuer/accounts', '{not json', 'admin-token-for-tests', 400, 'MALFORMED_JSON'],
      ['POST', '/v1/issuer/accounts', { accountId: 'x', balance: -1, currency: 'EUR' }, 'admin-token-for-tests', 400, 'BAD_REQUEST'],
      ['POST', '/v1/issuer/accounts', { accountId: 'x', balance: 1, currency: 'EUR' }, null, 401, 'BAD_TOKEN'],
      ['POST', '/v1/issuer/credentials', { accountId: 'nobody', walletPublicKey: '00'.repeat(32), offlineLimit: 1 }, 'admin-token-for-tests', 404, 'UNKNOWN_ACCOUNT'],
      ['GET', '/v1/directory/lookup?lat=91&lon=0', undefined, null, 400, 'BAD_REQUEST'],
      ['GET', '/v1/directory/lookup', undefined, null, 400, 'BAD_REQUEST'],
      ['GET', '/v1/nowhere', undefined, null, 404, 'NOT_FOUND'],
      ['GET', '/v1/box/nonce', undefined, null, 405, 'METHOD_NOT_ALLOWED'],
      ['GET', '/v1/ledger/accounts/nobody', undefined, 'admin-token-for-tests', 404, 'UNKNOWN_ACCOUNT'],
    ];
    for (const [method, path, body, token, status, code] of cases) {
      const r = await f.http(method, path, body, token);
      expect([path, r.status, r.body.error]).toEqual([path, status, code]);
    }
    const big = await fetch(`${f.base}/v1/enrol`, { method: 'POST', headers: { authorization: 'Bearer enrol-token-for-tests' }, body: 'x'.repeat(100_000) });
    expect(big.status).toBe(413);
    expect((await f.http('GET', '/v1/health', undefined, null)).status).toBe(200);
  });
});
