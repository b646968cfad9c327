/**
 * Location flow: the wallet finds the merchant by GPS, cell id or BSSID, online and from the
 * signed offline snapshot, pays the card it found, and that merchant's box accepts; the debit
 * then settles. Also the pure settlement verifier against the box-side world of test/support.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromHex } from '../../device/core/encoding/bytes.ts';
import { type SettlementContext, verifyDebitForSettlement } from '../../device/core/verify-debit.ts';
import { type Fixture, startFixture } from '../../backend/testing/http-fixture.ts';
import { locateOffline, locateOnline, parseLocateQuery } from '../../wallet/cli/locate.ts';

const SHOP_A = { merchantId: 'SHOP-A', displayName: 'Shop A', currency: 'EUR', location: { lat: 52.52, lon: 13.405 }, cellIds: ['262-01-1a2b-c3d4'] };
const SHOP_B = { merchantId: 'SHOP-B', displayName: 'Shop B', currency: 'EUR', location: { lat: 52.53, lon: 13.41 }, bssids: ['aa:bb:cc:dd:ee:02'] };

let f: Fixture;
beforeEach(async () => {
  f = await startFixture();
});
afterEach(async () => {
  await f.close();
});

describe('wallet locate', () => {
  it('finds the merchant online and offline by GPS, cell and BSSID, then pays it and the box accepts', async () => {
    const shopA = await f.enrolBox(SHOP_A);
    const shopB = await f.enrolBox(SHOP_B);
    const alice = await f.newWallet('alice', 100_00);
    const snapPath = join(f.dir, 'snapshot.json');
    writeFileSync(snapPath, JSON.stringify((await f.http('GET', '/v1/directory/snapshot', undefined, null)).body));
    const authorities = new Map(shopA.bundle.authorities.map((a) => [a.keyId, fromHex(a.publicKey)]));

    const gps = parseLocateQuery({ lat: '52.5201', lon: '13.4049', radius: '300' });
    const online = await locateOnline(f.base, gps);
    const offline = locateOffline(f.p, snapPath, authorities, gps);
    expect([online?.merchantId, offline?.merchantId]).toEqual(['SHOP-A', 'SHOP-A']);
    expect(online?.card.serial).toBe(shopA.identity.ownCard.serial);
    expect((await locateOnline(f.base, { cell: '262-01-1a2b-c3d4' }))?.merchantId).toBe('SHOP-A');
    expect(locateOffline(f.p, snapPath, authorities, { bssid: 'aa:bb:cc:dd:ee:02' })?.merchantId).toBe('SHOP-B');
    expect((await locateOnline(f.base, parseLocateQuery({ bssid: 'AA:BB:CC:DD:EE:02' })))?.card.serial).toBe(shopB.identity.ownCard.serial);
    expect(await locateOnline(f.base, { lat: 0, lon: 0, radiusM: 100 })).toBeNull();

    // Pay the card found offline at the box of that merchant (the same path as `wallet pay`).
    shopA.identity.ownCard = offline!.card;
    const d = f.pay(shopA, alice, 12_50);
    const r = await shopA.client.uploadBatch(f.batchOf(shopA, f.debits(d.record)));
    expect((r.body as { results: { status: string }[] }).results[0]!.status).toBe('settled');
    expect(await f.balance('merchant:SHOP-A')).toBe(12_50);
  });

  it('refuses a snapshot no trusted authority signed', async () => {
    await f.enrolBox(SHOP_A);
    const snap = (await f.http('GET', '/v1/directory/snapshot', undefined, null)).body;
    const path = join(f.dir, 'forged.json');
    writeFileSync(path, JSON.stringify({ ...snap, version: (snap.version as number) + 1 }));
    const me = await f.enrolBox(SHOP_B);
    const authorities = new Map(me.bundle.authorities.map((a) => [a.keyId, fromHex(a.publicKey)]));
    expect(() => locateOffline(f.p, path, authorities, { lat: 52.52, lon: 13.405, radiusM: 100 })).toThrow(/not signed/);
    expect(() => parseLocateQuery({ lat: '100', lon: '0' })).toThrow(/degrees/);
  });
});

describe('verifyDebitForSettlement', () => {
  it('accepts what the box accepted and names the rule a changed context breaks', async () => {
    const box = await f.enrolBox(SHOP_A);
    const other = await f.enrolBox(SHOP_B);
    const alice = await f.newWallet('alice', 100_00);
    const d = f.pay(box, alice, 12_50);
    const b = f.backend;
    const ctx: SettlementContext = {
      devicePublicKey: box.identity.device.publicKey,
      merchantId: 'SHOP-A',
      cardBySerial: (s: number) => b.authority.cardBySerial(s),
      issuers: b.issuer.trustedIssuers(),
      revocationOf: () => undefined,
    };
    const ok = verifyDebitForSettlement(f.p, d.record, ctx);
    expect(ok).toMatchObject({ ok: true, debitId: d.debitId, amount: 12_50, currency: 'EUR', counter: 1 });
    const code = (c: Partial<SettlementContext>) => {
      const r = verifyDebitForSettlement(f.p, d.record, { ...ctx, ...c });
      return r.ok ? 'ok' : r.code;
    };
    expect(code({ devicePublicKey: other.identity.device.publicKey })).toBe('BAD_DEVICE_SIGNATURE');
    expect(code({ merchantId: 'SHOP-B' })).toBe('WRONG_MERCHANT');
    expect(code({ cardBySerial: () => undefined })).toBe('UNKNOWN_CARD');
    expect(code({ issuers: new Map() })).toBe('UNKNOWN_ISSUER');
    expect(code({ issuers: new Map([...ctx.issuers.keys()].map((k) => [k, other.identity.device.publicKey])) })).toBe('BAD_CREDENTIAL');
    expect(code({ revocationOf: () => ({ version: 0, atMs: 0 }) })).toBe('REVOKED');
    expect(code({ revocationOf: () => ({ version: 1, atMs: 0 }) })).toBe('ok');
    const otherCard = other.identity.ownCard;
    expect(code({ cardBySerial: () => ({ card: { ...otherCard, merchantId: 'SHOP-A' }, hash: new Uint8Array(32) }) })).toBe('WRONG_MERCHANT');
    expect(verifyDebitForSettlement(f.p, d.record.subarray(0, 40), ctx)).toMatchObject({ ok: false, code: 'MALFORMED' });
  });
});
