import { describe, expect, it, vi } from 'vitest';
import type { LineMeta, Scanner, ScannerStatus } from '../../drivers/scanner/types.ts';

/** What a contract run needs from one Scanner implementation. */
export interface ScannerHarness {
  scanner: Scanner;
  /** Sends bytes or text as if the scanner module emitted them (valid only after open()). */
  feed(data: Uint8Array | string): Promise<void>;
  /** The delimiter the implementation is configured with. */
  delimiter: string;
  maxLineBytes: number;
  /** False for the fake, which receives whole lines rather than raw bytes. */
  rawBytes: boolean;
  cleanup(): Promise<void>;
}

export type ScannerHarnessFactory = () => Promise<ScannerHarness>;

interface Received {
  lines: string[];
  metas: LineMeta[];
  statuses: ScannerStatus[];
}

function record(scanner: Scanner): Received {
  const r: Received = { lines: [], metas: [], statuses: [] };
  scanner.onLine((line, meta) => {
    r.lines.push(line);
    r.metas.push(meta);
  });
  scanner.onStatus((s) => r.statuses.push(s));
  return r;
}

/** Waits for I/O (pty, TCP, mock binding ticks); polls, never sleeps a fixed time. */
async function until(cond: () => boolean): Promise<void> {
  await vi.waitFor(() => expect(cond()).toBe(true), { timeout: 5000, interval: 5 });
}

/**
 * The behaviour every Scanner must show. `factory` builds a fresh, unopened scanner per test.
 */
export function scannerContract(name: string, factory: ScannerHarnessFactory): void {
  describe(`Scanner contract: ${name}`, () => {
    async function opened(): Promise<{ h: ScannerHarness; r: Received }> {
      const h = await factory();
      const r = record(h.scanner);
      await h.scanner.open();
      return { h, r };
    }

    it('reports connected on open and disconnected on close, with zero counters', async () => {
      const { h, r } = await opened();
      try {
        expect(r.statuses.at(-1)?.state).toBe('connected');
        expect(h.scanner.stats()).toEqual({ lines: 0, droppedOverflow: 0, droppedInvalid: 0, reconnects: 0 });
      } finally {
        await h.scanner.close();
        await h.cleanup();
      }
      expect(r.statuses.at(-1)?.state).toBe('disconnected');
    });

    it('delivers lines in order without the delimiter, stamped with hrtime', async () => {
      const { h, r } = await opened();
      try {
        const before = process.hrtime.bigint();
        await h.feed(`HC1:ABC${h.delimiter}second line${h.delimiter}`);
        await until(() => r.lines.length === 2);
        expect(r.lines).toEqual(['HC1:ABC', 'second line']);
        for (const m of r.metas) {
          expect(typeof m.receivedAtNs).toBe('bigint');
          expect(m.receivedAtNs >= before).toBe(true);
          expect(m.receivedAtNs <= process.hrtime.bigint()).toBe(true);
        }
        expect(h.scanner.stats().lines).toBe(2);
      } finally {
        await h.scanner.close();
        await h.cleanup();
      }
    });

    it('delivers identical repeated lines every time (no repeat suppression in the driver)', async () => {
      const { h, r } = await opened();
      try {
        for (let i = 0; i < 3; i++) await h.feed(`SAME${h.delimiter}`);
        await until(() => r.lines.length === 3);
        expect(r.lines).toEqual(['SAME', 'SAME', 'SAME']);
      } finally {
        await h.scanner.close();
        await h.cleanup();
      }
    });

    it('delivers UTF-8 text intact', async () => {
      const { h, r } = await opened();
      try {
        await h.feed(`Zürich café €5${h.delimiter}`);
        await until(() => r.lines.length === 1);
        expect(r.lines[0]).toBe('Zürich café €5');
      } finally {
        await h.scanner.close();
        await h.cleanup();
      }
    });

    it('stops delivering to a listener after it unsubscribes', async () => {
      const { h, r } = await opened();
      const late: string[] = [];
      const off = h.scanner.onLine((l) => late.push(l));
      try {
        await h.feed(`one${h.delimiter}`);
        await until(() => r.lines.length === 1);
        off();
        await h.feed(`two${h.delimiter}`);
        await until(() => r.lines.length === 2);
        expect(late).toEqual(['one']);
      } finally {
        await h.scanner.close();
        await h.cleanup();
      }
    });

    describe('raw byte handling', () => {
      async function rawOnly(fn: (h: ScannerHarness, r: Received) => Promise<void>): Promise<void> {
        const { h, r } = await opened();
        try {
          if (!h.rawBytes) return; // the fake takes whole lines; bytes are the real drivers' job
          await fn(h, r);
        } finally {
          await h.scanner.close();
          await h.cleanup();
        }
      }

      it('joins a line split across several chunks', async () => {
        await rawOnly(async (h, r) => {
          for (const part of ['HC', '1:', 'AB', `C${h.delimiter}`]) await h.feed(part);
          await until(() => r.lines.length === 1);
          expect(r.lines).toEqual(['HC1:ABC']);
        });
      });

      it('drops a line longer than maxLineBytes, counts it, and reads the next line', async () => {
        await rawOnly(async (h, r) => {
          await h.feed(`${'x'.repeat(h.maxLineBytes + 1)}${h.delimiter}ok${h.delimiter}`);
          await until(() => r.lines.length === 1);
          expect(r.lines).toEqual(['ok']);
          expect(h.scanner.stats().droppedOverflow).toBe(1);
        });
      });

      it('accepts a line of exactly maxLineBytes', async () => {
        await rawOnly(async (h, r) => {
          await h.feed(`${'y'.repeat(h.maxLineBytes)}${h.delimiter}`);
          await until(() => r.lines.length === 1);
          expect(r.lines[0]).toHaveLength(h.maxLineBytes);
          expect(h.scanner.stats().droppedOverflow).toBe(0);
        });
      });

      it('drops bytes that are not UTF-8 and lines with control characters, counting both', async () => {
        await rawOnly(async (h, r) => {
          const d = new TextEncoder().encode(h.delimiter);
          const bad = new Uint8Array([0x41, 0xff, 0xfe, 0x42, ...d]); // A, invalid bytes, B
          await h.feed(bad);
          await h.feed(`A\u0000B${h.delimiter}`);
          await h.feed(`good${h.delimiter}`);
          await until(() => r.lines.length === 1);
          expect(r.lines).toEqual(['good']);
          expect(h.scanner.stats().droppedInvalid).toBe(2);
        });
      });
    });
  });
}
