import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { SerialLineScanner } from '../../drivers/scanner/serial-line.ts';
import type { ScannerStatus } from '../../drivers/scanner/types.ts';
import { socatAvailable, startPtyPair } from '../support/pty.ts';

const until = (cond: () => boolean) => vi.waitFor(() => expect(cond()).toBe(true), { timeout: 10_000, interval: 10 });

function writeTo(path: string, text: string): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

describe.runIf(socatAvailable())('SerialLineScanner over a real socat pty (needs `socat` on PATH)', () => {
  it('reads lines, survives socat being killed, and reconnects when the same link path reappears', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scanner-pty-'));
    const a = join(dir, 'qrscanner');
    const b = join(dir, 'module');
    let pair = await startPtyPair(a, b);
    // Small real backoff: this test exercises the real kernel pty, so timers are real too.
    const scanner = new SerialLineScanner(
      { path: a, baudRate: 115200, delimiter: '\r' },
      { backoff: { initialMs: 20, maxMs: 200 }, presenceCheckMs: 100 },
    );
    const lines: string[] = [];
    const statuses: ScannerStatus[] = [];
    scanner.onLine((l) => lines.push(l));
    scanner.onStatus((s) => statuses.push(s));
    try {
      await scanner.open();
      const firstTty = statuses.at(-1)?.detail;
      expect(firstTty).toMatch(/^\/dev\/pts\//);
      writeTo(b, 'HC1:ONE\rHC1:TWO\r');
      await until(() => lines.length === 2);

      await pair.stop(); // the "USB unplug": the pty vanishes and the link is removed
      await until(() => statuses.some((s) => s.state === 'reconnecting'));

      pair = await startPtyPair(a, b); // replug: same link, new /dev/pts/N
      await until(() => statuses.at(-1)?.state === 'connected');
      writeTo(b, 'HC1:THREE\r');
      await until(() => lines.length === 3);
      expect(lines).toEqual(['HC1:ONE', 'HC1:TWO', 'HC1:THREE']);
      expect(scanner.stats().reconnects).toBeGreaterThanOrEqual(1);
    } catch (e) {
      console.error('scanner-pty failure context', JSON.stringify({ statuses, lines }));
      throw e;
    } finally {
      await scanner.close();
      await pair.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
