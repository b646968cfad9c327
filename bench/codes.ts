/**
 * Valid static-flow payment codes for the bench, built on the deterministic test world
 * (test/support/world.ts): SHOP-A till 1, 12.50 EUR, every code with a fresh (wallet, counter).
 */
import type { CryptoProvider } from '../device/core/crypto/provider.ts';
import type { AmountSource, RevocationView } from '../device/core/views.ts';
import { makeWorld, T0, type World } from '../test/support/world.ts';
import type { Wallet } from '../wallet/lib/wallet.ts';

export const BENCH_AMOUNT = 12_50;
export const BENCH_NOW_MS = T0;
/** The credential limit is a u32 of minor units: the offline-limit check never declines. */
const HIGH_LIMIT = 0xffff_ffff;

export const fixedAmount: AmountSource = { kind: 'fixed', amount: BENCH_AMOUNT, currency: 'EUR' };
export const freshRevocations: RevocationView = { version: 7, issuedAtMs: T0 - 3600_000, isRevoked: () => false };

/**
 * Hands out codes from a pool of wallets in turn. One wallet is enough for decide() alone; the
 * journal benches spread codes over `wallets` wallets because unsyncedSpend() sums one wallet's
 * pending debits, which no real wallet accumulates by the thousand.
 */
export class CodeFactory {
  readonly world: World;
  readonly #wallets: Wallet[] = [];
  #next = 0;

  constructor(p: CryptoProvider, wallets = 1) {
    if (!Number.isInteger(wallets) || wallets < 1 || wallets > 200) {
      throw new Error(`CodeFactory: expected 1..200 wallets, got ${wallets}`);
    }
    this.world = makeWorld(p);
    for (let i = 0; i < wallets; i++) this.#wallets.push(this.world.wallet(i + 1, { limit: HIGH_LIMIT }));
  }

  /** `n` codes, each with a counter never used before by its wallet. */
  codes(n: number): string[] {
    const card = this.world.shopA.cards[0]!;
    const out: string[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const wallet = this.#wallets[this.#next++ % this.#wallets.length]!;
      out[i] = wallet.pay(card, BENCH_AMOUNT).text;
    }
    return out;
  }
}
