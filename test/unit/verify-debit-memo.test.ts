import { describe, expect, it } from 'vitest';
import { decide } from '../../device/core/decide.ts';
import { toHex } from '../../device/core/encoding/bytes.ts';
import { decodeDebit, signDebit } from '../../device/core/protocol/debit.ts';
import { verifyDebitForSettlement } from '../../device/core/verify-debit.ts';
import { createNodeProvider } from '../../device/crypto/node-provider.ts';
import { baseInput, makeWorld } from '../support/world.ts';

const p = createNodeProvider();

describe('acquirer credential memo', () => {
  it('skips re-verifying a known-good credential but still rejects a forged one', () => {
    const w = makeWorld(p);
    const A = w.shopA.cards[0]!;
    const d = decide(p, baseInput(w, w.wallet(1).pay(A, 12_50).text));
    if (d.kind !== 'accept') throw new Error(`expected accept, got ${d.code}`);
    const memo = new Set<string>();
    const ctx = {
      devicePublicKey: w.device[0]!.publicKey,
      merchantId: 'SHOP-A',
      cardBySerial: (s: number) => (s === A.serial ? { card: A, hash: p.sha256(A.bytes) } : undefined),
      issuers: w.issuers,
      revocationOf: () => undefined,
      verifiedCredentials: memo,
    };
    expect(verifyDebitForSettlement(p, d.record, ctx).ok).toBe(true);
    expect(memo.size).toBe(1);
    expect(verifyDebitForSettlement(p, d.record, ctx).ok).toBe(true);

    // Same debit with one byte of the credential's issuer signature flipped, re-signed by the box.
    const rec = decodeDebit(d.record)!;
    const auth = rec.authorization.slice();
    auth[5 + 135 - 1]! ^= 1; // flow 1 + cardSerial 4, then the credential (135 bytes): its last byte
    const forged = signDebit({ ...rec, authorization: auth }, w.device[0]!);
    const v = verifyDebitForSettlement(p, forged, ctx);
    expect(v.ok ? 'ok' : v.code).toBe('BAD_CREDENTIAL');
    expect(toHex(d.record)).not.toBe(toHex(forged));
  });
});
