import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { FakeScanner } from '../../drivers/scanner/fake.ts';
import { SerialLineScanner } from '../../drivers/scanner/serial-line.ts';
import { TcpSimScanner } from '../../drivers/scanner/tcp-sim.ts';
import { socatAvailable, startPtyPair } from '../support/pty.ts';
import { scannerContract } from './scanner.contract.ts';
import { UnpluggableMockBinding } from './scanner-mock-binding.ts';

const MAX = 256;

scannerContract('FakeScanner', async () => {
  const scanner = new FakeScanner();
  return {
    scanner,
    delimiter: '\n',
    maxLineBytes: MAX,
    rawBytes: false,
    async feed(data) {
      const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
      for (const line of text.split('\n').filter((l) => l.length > 0)) scanner.emitLine(line);
    },
    async cleanup() {},
  };
});

let mockSeq = 0;
scannerContract('SerialLineScanner on @serialport/binding-mock', async () => {
  const device = `/dev/mock-contract-${++mockSeq}`;
  const binding = new UnpluggableMockBinding();
  binding.plug(device);
  const scanner = new SerialLineScanner(
    { path: device, baudRate: 115200, delimiter: '\r', maxLineBytes: MAX },
    { binding, deviceExists: binding.isPresent },
  );
  return {
    scanner,
    delimiter: '\r',
    maxLineBytes: MAX,
    rawBytes: true,
    async feed(data) {
      binding.feed(device, data);
    },
    async cleanup() {},
  };
});

scannerContract('TcpSimScanner', async () => {
  const scanner = new TcpSimScanner({ port: 0, maxLineBytes: MAX });
  let socket: Socket | undefined;
  return {
    scanner,
    delimiter: '\n',
    maxLineBytes: MAX,
    rawBytes: true,
    async feed(data) {
      if (!socket) {
        const s = connect(scanner.port, '127.0.0.1');
        await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
        socket = s;
      }
      const s = socket;
      await new Promise<void>((resolve, reject) => s.write(data, (e) => (e ? reject(e) : resolve())));
    },
    async cleanup() {
      socket?.destroy();
    },
  };
});

if (process.env['SCANNER_PTY'] === '1' && socatAvailable()) {
  let ptySeq = 0;
  scannerContract('SerialLineScanner on a socat pty pair', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scanner-pty-'));
    const pair = await startPtyPair(join(dir, `A${++ptySeq}`), join(dir, `B${ptySeq}`));
    const scanner = new SerialLineScanner({ path: pair.a, baudRate: 115200, delimiter: '\r', maxLineBytes: MAX });
    let fd: number | undefined;
    return {
      scanner,
      delimiter: '\r',
      maxLineBytes: MAX,
      rawBytes: true,
      async feed(data) {
        fd ??= openSync(pair.b, 'r+');
        writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      },
      async cleanup() {
        if (fd !== undefined) closeSync(fd);
        await pair.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
} else {
  describe('Scanner contract: SerialLineScanner on a socat pty pair', () => {
    it.todo('needs SCANNER_PTY=1 and `socat` on PATH (apt install socat): runs the contract over a real pty pair');
  });
}
