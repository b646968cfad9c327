import { connect, type Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { TcpSimScanner } from '../../drivers/scanner/tcp-sim.ts';

async function client(port: number): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
  return s;
}
const send = (s: Socket, data: string) => new Promise<void>((resolve, reject) => s.write(data, (e) => (e ? reject(e) : resolve())));

describe('TcpSimScanner', () => {
  it('keeps line state per client: a half line from one client never joins another', async () => {
    const sim = new TcpSimScanner({ port: 0 });
    const lines: string[] = [];
    sim.onLine((l) => lines.push(l));
    await sim.open();
    const a = await client(sim.port);
    const b = await client(sim.port);
    try {
      await send(a, 'AAA-');
      await send(b, 'BBB\n');
      await vi.waitFor(() => expect(lines).toHaveLength(1));
      await send(a, 'END\n');
      await vi.waitFor(() => expect(lines).toHaveLength(2));
      expect(lines).toEqual(['BBB', 'AAA-END']);
    } finally {
      a.destroy();
      b.destroy();
      await sim.close();
    }
  });

  it('open() throws a retryable BoxError when the port is taken, and a config error for a bad port', async () => {
    const first = new TcpSimScanner({ port: 0 });
    await first.open();
    try {
      const second = new TcpSimScanner({ port: first.port });
      await expect(second.open()).rejects.toMatchObject({ code: 'SCANNER_UNAVAILABLE', retryable: true });
      await expect(new TcpSimScanner({ port: 70000 }).open()).rejects.toThrow(
        'scanner.open: expected port number 0..65535, got number 70000',
      );
    } finally {
      await first.close();
    }
  });

  it('close() disconnects clients and reports disconnected', async () => {
    const sim = new TcpSimScanner({ port: 0 });
    const states: string[] = [];
    sim.onStatus((s) => states.push(s.state));
    await sim.open();
    const c = await client(sim.port);
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    await sim.close();
    await closed;
    expect(states).toEqual(['connected', 'disconnected']);
  });
});
