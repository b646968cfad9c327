/** Money rules beyond the decline-code table: zero amounts and the card's currency. */
import { describe, expect, it } from 'vitest';
import { issueCredential } from '../../backend/lib/issue.ts';
import { decide } from '../../device/core/decide.ts';
import { cardHash } from '../../device/core/protocol/card.ts';
import { FLOW } from '../../device/core/protocol/constants.ts';
import { craftCode } from '../support/hostile.ts';
import { allProviders } from '../support/vectors.ts';
import { baseInput, makeWorld, seed, T0_SEC } from '../support/world.ts';

describe.each(allProviders())('decide: money rules (%s)', (_name, p) => {
  const w = makeWorld(p);
  const A = w.shopA.cards[0]!;
  const signer = p.ed25519Signer(seed(41));
  const code = (amount: number, currency: string) => {
    const credential = issueCredential(p, w.issuer, { walletPublicKey: signer.publicKey, accountToken: new Uint8Array(16), currency, offlineLimit: 100_00, notAfterSec: T0_SEC + 86400 });
    const body = { flow: FLOW.static, cardSerial: A.serial, credential, amount, currency, counter: 7, timestamp: T0_SEC };
    return craftCode(p, { recipientPublicKey: A.encPublicKey, body, signer, cardHash: cardHash(p, A) });
  };

  it('a zero amount is never accepted, even when the box charges zero', () => {
    const d = decide(p, baseInput(w, code(0, 'EUR'), { amount: { kind: 'fixed', amount: 0, currency: 'EUR' } }));
    expect(d).toMatchObject({ kind: 'decline', code: 'AMOUNT_MISMATCH' });
  });

  it("a payment in another currency than the merchant card's is declined even if the box was told to charge it", () => {
    const d = decide(p, baseInput(w, code(12_50, 'USD'), { amount: { kind: 'fixed', amount: 12_50, currency: 'USD' } }));
    expect(d).toMatchObject({ kind: 'decline', code: 'CURRENCY_MISMATCH' });
  });
});
