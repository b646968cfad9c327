/**
 * Contract every NfcReader implementation satisfies. Call it with a factory; `tapPhone` is given by
 * implementations that can put a phone in the field on demand (the fake), otherwise the tap tests
 * stay pending with the hardware they need.
 */
import { describe, expect, it } from 'vitest';
import { silentLog } from '../../drivers/common/log.ts';
import { type BoxExchangeResult, runBoxExchange } from '../../drivers/nfc/exchange.ts';
import type { NfcReader, NfcStatus } from '../../drivers/nfc/types.ts';
import { createHceResponder, type HceResponder } from '../../wallet/lib/nfc-hce.ts';

export interface NfcReaderUnderTest {
  reader: NfcReader;
  /** Puts `phone` in the field and resolves when every onTap callback is done. */
  tapPhone?: (phone: HceResponder) => Promise<void>;
  /** Waits until the first status is in (real drivers probe asynchronously). */
  settle?: () => Promise<void>;
}

const STATES = ['no-pcscd', 'no-reader', 'ready', 'error'];

export function nfcReaderContract(name: string, factory: () => NfcReaderUnderTest, tapHardware?: string): void {
  describe(`NfcReader contract: ${name}`, () => {
    it('open() reports a well-formed status; ready iff readers are attached', async () => {
      const { reader, settle } = factory();
      const statuses: NfcStatus[] = [];
      reader.onStatus((s) => statuses.push(s));
      await reader.open();
      await settle?.();
      expect(statuses.length).toBeGreaterThan(0);
      for (const s of statuses) {
        expect(STATES).toContain(s.state);
        expect(Array.isArray(s.readers)).toBe(true);
        expect(s.state === 'ready').toBe(s.readers.length > 0);
        if (s.state === 'no-pcscd' || s.state === 'error') expect(s.code).toMatch(/^NFC_/);
      }
      await reader.close();
    });

    it('open() and close() are idempotent, and nothing is reported after close()', async () => {
      const { reader, settle } = factory();
      const statuses: NfcStatus[] = [];
      reader.onStatus((s) => statuses.push(s));
      await reader.open();
      await reader.open();
      await settle?.();
      await reader.close();
      const seen = statuses.length;
      await reader.close();
      await new Promise((r) => setImmediate(r));
      expect(statuses.length).toBe(seen);
    });

    const tapTest = factory().tapPhone === undefined ? it.skip : it;
    tapTest(
      `a tapped phone completes a chained exchange${tapHardware ? ` (needs ${tapHardware})` : ''}`,
      async () => {
        const { reader, tapPhone } = factory();
        const answers: Uint8Array[] = [];
        const phone = createHceResponder({
          randomBytes: (n) => Uint8Array.from({ length: n }, (_, i) => i + 1),
          onAnswer: (_nonce, answer) => {
            answers.push(answer);
            return true;
          },
        });
        const results: BoxExchangeResult[] = [];
        reader.onTap(async (tap) => {
          expect(typeof tap.readerName).toBe('string');
          results.push(await runBoxExchange(tap.transmit, { log: silentLog, buildAnswer: () => new Uint8Array(600).fill(9) }));
        });
        await reader.open();
        await tapPhone!(phone);
        expect(results).toHaveLength(1);
        expect(results[0]).toMatchObject({ ok: true, chunks: 3 });
        expect(answers[0]?.length).toBe(600);
        await reader.close();
      },
    );
  });
}
