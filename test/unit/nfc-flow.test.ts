/**
 * The NFC merchant-identity exchange end to end against the fake phone: FakeNfcReader tap -> the
 * wallet's HCE responder verifies the box's signature -> the wallet pays to the session key -> the
 * code is scanned through the Acceptor (inside the writer queue).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ACR122U_LIMITS, type FakeNfcReader } from '../../drivers/nfc/fake.ts';
import { NFC_CODES } from '../../drivers/nfc/apdu.ts';
import { NfcService } from '../../device/app/nfc-service.ts';
import { PcscNfcReader } from '../../drivers/nfc/pcsc-reader.ts';
import { silentLog } from '../../drivers/common/log.ts';
import { WalletError } from '../../wallet/lib/wallet.ts';
import { makePhone, makeRig, p, type Rig } from './pos-harness.ts';

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

async function tapWith(r: Rig, phone: ReturnType<typeof makePhone>, opts: Parameters<FakeNfcReader['tap']>[1] = {}) {
  // The service's own onTap is registered by start(); tap() resolves when the exchange is done.
  const before = r.nfc.counts.taps;
  await r.reader.tap(phone.hce, opts);
  expect(r.nfc.counts.taps).toBe(before + 1);
}

describe('NFC flow: tap, verify, pay to the session key, scan', () => {
  it('accepts a code paid to the session of a tap, chained for a short-APDU reader, and erases the session', async () => {
    rig = makeRig({ mode: 'pos' });
    await rig.nfc.start();
    expect(await rig.command({ type: 'charge', chargeId: 'C-1', amount: 12_50, currency: 'EUR' })).toMatchObject({ state: 'pending' });
    const phone = makePhone(rig.w.wallet(1));
    await tapWith(rig, phone);

    // The wallet verified the box's signature over its nonce and saw the pending charge.
    expect(phone.state.refusal).toBeUndefined();
    expect(phone.state.answer).toMatchObject({ chargeId: 'C-1', amount: 12_50, currency: 'EUR', ttlSeconds: 120 });
    expect(rig.sessions.size).toBe(1);
    // The answer did not fit one short APDU: it went out in PUT ANSWER chunks (CLA 0x90 = chained).
    const puts = rig.reader.transmits.filter((t) => t.command[1] === 0xd0);
    expect(puts.length).toBeGreaterThanOrEqual(2);
    expect(puts.every((t) => t.command.length <= ACR122U_LIMITS.maxCommandBytes)).toBe(true);
    expect(puts.slice(0, -1).every((t) => t.command[0] === 0x90)).toBe(true);

    const outcome = await rig.scan(phone.payTapped());
    expect(outcome).toMatchObject({ kind: 'accept', amount: 12_50, chargeId: 'C-1' });
    expect(rig.sessions.size).toBe(0);
    expect(rig.events).toEqual([{ type: 'paid', chargeId: 'C-1', debitId: (outcome as { debitId: string }).debitId, amount: 12_50, currency: 'EUR' }]);
    expect(rig.journal.getCharge('C-1')).toMatchObject({ state: 'paid', debitId: (outcome as { debitId: string }).debitId });
    expect(rig.shown).toEqual(['accepted']);
  });

  it('offers the fixed price under charge id FIXED at a fixed-price box', async () => {
    rig = makeRig({ mode: 'fixed' });
    await rig.nfc.start();
    const phone = makePhone(rig.w.wallet(1));
    await tapWith(rig, phone);
    expect(phone.state.answer).toMatchObject({ chargeId: 'FIXED', amount: 12_50 });
    // The debit records the charge id the wallet signed ('FIXED'), so the acquirer's check against the signed content holds.
    expect(await rig.scan(phone.payTapped())).toMatchObject({ kind: 'accept', chargeId: 'FIXED' });
  });

  it('declines the same code in a new session, and a code whose session expired (SESSION_EXPIRED)', async () => {
    rig = makeRig({ mode: 'fixed' });
    await rig.nfc.start();
    const phone = makePhone(rig.w.wallet(1));
    await tapWith(rig, phone);
    const first = phone.payTapped();
    expect(await rig.scan(first)).toMatchObject({ kind: 'accept' });

    await tapWith(rig, phone); // a new session
    expect(rig.sessions.size).toBe(1);
    expect(await rig.scan(first)).toMatchObject({ kind: 'decline', code: 'SESSION_EXPIRED' });
    expect(rig.sessions.size).toBe(1); // the new session is untouched

    const late = phone.payTapped();
    rig.advance(120_001);
    expect(await rig.scan(late)).toMatchObject({ kind: 'decline', code: 'SESSION_EXPIRED' });
    expect(rig.events.map((e) => e.type)).toEqual(['paid', 'declined', 'declined']);
  });

  it('a phone given a forged answer (wrong device key) refuses it and never pays; the box erases the session', async () => {
    const probe = makeRig();
    const world = probe.w;
    await probe.close();
    rig = makeRig({ mode: 'fixed', world, answerSigner: world.device[2]! });
    await rig.nfc.start();
    const phone = makePhone(world.wallet(1));
    const wallet = world.wallet(1);
    await tapWith(rig, phone);
    expect(phone.state.refusal).toBeInstanceOf(WalletError);
    expect((phone.state.refusal as WalletError).code).toBe('NFC_ANSWER_FORGED');
    expect(() => phone.payTapped()).toThrow(/no verified NFC answer/);
    expect(wallet.counter).toBe(0);
    expect(rig.sessions.size).toBe(0);
    expect(rig.log.lines.some((l) => l.obj['event'] === 'nfc.fault' && l.obj['code'] === NFC_CODES.PHONE_REFUSED)).toBe(true);
  });

  it('refuses a tap when no charge is pending (POS mode) and opens no session', async () => {
    rig = makeRig({ mode: 'pos' });
    await rig.nfc.start();
    const phone = makePhone(rig.w.wallet(1));
    await tapWith(rig, phone);
    expect(phone.state.answers).toBe(0);
    expect(rig.sessions.size).toBe(0);
    expect(rig.log.lines.some((l) => l.obj['event'] === 'nfc.fault' && l.obj['code'] === NFC_CODES.ANSWER_FAILED)).toBe(true);
  });

  it('survives a phone pulled away mid-exchange and garbage responses: logs the code, erases the session, next tap works', async () => {
    rig = makeRig({ mode: 'fixed' });
    await rig.nfc.start();
    const phone = makePhone(rig.w.wallet(1));
    await tapWith(rig, phone, { removeAfter: 2 }); // SELECT and first chunk pass, then the phone is gone
    expect(rig.sessions.size).toBe(0);
    await tapWith(rig, phone, { corrupt: (r, i) => (i === 0 ? Uint8Array.of(0x01) : r) });
    expect(rig.sessions.size).toBe(0);
    const codes = rig.log.lines.filter((l) => l.obj['event'] === 'nfc.fault').map((l) => l.obj['code']);
    expect(codes).toEqual([NFC_CODES.REMOVED, NFC_CODES.SHORT_RESPONSE]);
    phone.hce.reset();
    await tapWith(rig, phone);
    expect(await rig.scan(phone.payTapped())).toMatchObject({ kind: 'accept' });
  });

  it('without nfc-pcsc: a clear error naming the apt and npm packages, and QR scanning continues', async () => {
    rig = makeRig({ mode: 'fixed' });
    const reader = new PcscNfcReader({
      log: silentLog,
      loadModule: () => Promise.reject(new Error("Cannot find package 'nfc-pcsc'")),
    });
    const service = new NfcService({
      p,
      reader,
      sessions: rig.sessions,
      ownCard: rig.w.shopA.cards[0]!,
      device: rig.w.device[0]!,
      now: () => rig!.clock.view().lowerMs,
      queue: rig.queue,
      offer: () => rig!.book.offerForTap(),
      log: rig.log,
    });
    expect(await service.start()).toBe(false);
    expect(service.status).toMatchObject({ state: 'error', code: 'NFC_DRIVER_MISSING' });
    const line = rig.log.lines.find((l) => l.obj['event'] === 'nfc.disabled');
    expect(String(line?.obj['err'])).toContain('apt install libpcsclite-dev pcscd libccid');
    expect(String(line?.obj['err'])).toContain('npm i nfc-pcsc');
    const wallet = rig.w.wallet(2);
    expect(await rig.scan(wallet.pay(rig.w.shopA.cards[0]!, 12_50).text)).toMatchObject({ kind: 'accept' });
  });
});
