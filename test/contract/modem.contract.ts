/**
 * Contract every Connectivity implementation keeps. Run it with a factory that returns a harness
 * able to drive the link up and down (the fake directly, the AT modem through the pty simulator).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connectivity, LinkSource, LinkState } from '../../drivers/modem/types.ts';

export interface ConnectivityHarness {
  conn: Connectivity;
  /** The `source` this implementation reports. */
  source: LinkSource;
  setUp(up: boolean): void | Promise<void>;
  /** Network time the link will report; undefined = the operator sent no NITZ. Whole seconds. */
  setNetworkTime(ms: number | undefined): void | Promise<void>;
  teardown?(): Promise<void>;
}

/** Pass `factory: undefined` with `pending` naming the hardware when it is not available. */
export function connectivityContract(
  name: string,
  factory: (() => Promise<ConnectivityHarness>) | undefined,
  pending = 'needs hardware',
): void {
  if (factory === undefined) {
    describe.skip(`Connectivity contract: ${name} (${pending})`, () => {
      it.todo(pending);
    });
    return;
  }

  describe(`Connectivity contract: ${name}`, () => {
    let h: ConnectivityHarness;
    beforeEach(async () => {
      h = await factory();
    });
    afterEach(async () => {
      await h.conn.close();
      await h.teardown?.();
    });

    const expectDown = (s: LinkState): void => {
      expect(s.up).toBe(false);
      expect(s.source).toBe(h.source);
      expect(typeof s.code).toBe('string');
      expect(s.code).not.toBe('');
    };

    it('check() before open() is down with a code and does not throw', async () => {
      expectDown(await h.conn.check());
    });

    it('reports up with no code when the link is up', async () => {
      await h.setUp(true);
      await h.conn.open();
      const s = await h.conn.check();
      expect(s).toMatchObject({ up: true, source: h.source });
      expect(s.code).toBeUndefined();
    });

    it('follows the link down and up again', async () => {
      await h.setUp(true);
      await h.conn.open();
      expect((await h.conn.check()).up).toBe(true);
      await h.setUp(false);
      expectDown(await h.conn.check());
      await h.setUp(true);
      expect((await h.conn.check()).up).toBe(true);
    });

    it('reports network time when there is one and leaves it out when there is none', async () => {
      const t = Date.UTC(2026, 10, 25, 10, 0, 0);
      await h.setUp(true);
      await h.setNetworkTime(t);
      await h.conn.open();
      expect((await h.conn.check()).networkTimeMs).toBe(t);
      await h.setNetworkTime(undefined);
      expect((await h.conn.check()).networkTimeMs).toBeUndefined();
    });

    it('answers concurrent checks consistently', async () => {
      await h.setUp(true);
      await h.conn.open();
      const all = await Promise.all([1, 2, 3, 4].map(() => h.conn.check()));
      expect(all.map((s) => s.up)).toEqual([true, true, true, true]);
    });

    it('close() is idempotent, check() after close is down, and open() works again', async () => {
      await h.setUp(true);
      await h.conn.open();
      await h.conn.close();
      await h.conn.close();
      expectDown(await h.conn.check());
      await h.conn.open();
      expect((await h.conn.check()).up).toBe(true);
    });
  });
}
