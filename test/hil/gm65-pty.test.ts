/**
 * The app's GM65 wiring over a real pseudo-terminal: createScanner() with `gm65.configure` probes
 * the module's baud, configures it and then reads lines at the target baud. socat links
 * <dir>/scanner (the box's serial port) to <dir>/module, where this test runs Gm65Simulator
 * behind a real serialport. A pty carries bytes at any baud, so the bridge asks the kernel which
 * baud the box side is set to (`stty -F <dir>/scanner speed`) before each chunk and tells the
 * simulator (setBaudRate): a frame sent at a baud the module is not at gets no reply, as on the wire.
 * Needs the Debian package socat (and stty from coreutils); pending without it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createScanner } from '../../device/app/scanner-factory.ts';
import type { BoxConfig } from '../../device/app/config.ts';
import { silentLog } from '../../drivers/common/log.ts';
import { GM65_BAUD_CODES, GM65_TERMINATORS, Gm65Zone } from '../../drivers/scanner/gm65.ts';
import { Gm65Simulator } from '../../drivers/scanner/gm65-sim.ts';
import type { Scanner } from '../../drivers/scanner/types.ts';
import { type PtyPair, socatAvailable, startPtyPair } from '../support/pty.ts';

const HAVE_SOCAT = socatAvailable();

/** The baud the box side of the pty is set to, as the kernel holds it in the termios. */
function hostBaud(path: string): number {
  const r = spawnSync('stty', ['-F', path, 'speed'], { encoding: 'utf8' });
  const baud = Number(r.stdout.trim());
  if (r.status !== 0 || !Number.isInteger(baud)) throw new Error(`hostBaud: stty -F ${path} failed: ${r.stderr}`);
  return baud;
}

/** The module end: a real serialport on the pty, bridged both ways to the simulator. */
class ModuleBridge {
  readonly sim: Gm65Simulator;
  readonly #port: SerialPort;
  readonly #hostPath: string;

  private constructor(sim: Gm65Simulator, port: SerialPort, hostPath: string) {
    this.sim = sim;
    this.#port = port;
    this.#hostPath = hostPath;
    // transport() is the simulator's host-facing side: write() feeds the module's UART input,
    // onData() carries what the module sends back.
    const link = sim.transport();
    port.on('data', (chunk: Buffer) => {
      const bytes = new Uint8Array(chunk);
      void link.setBaudRate(hostBaud(this.#hostPath)).then(() => link.write(bytes));
    });
    link.onData((reply) => port.write(Buffer.from(reply)));
  }

  static async open(modulePath: string, hostPath: string, sim: Gm65Simulator): Promise<ModuleBridge> {
    const port = new SerialPort({ path: modulePath, baudRate: 9600, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    return new ModuleBridge(sim, port, hostPath);
  }

  /** Sends a decoded code the way the module does in continuous mode: text + CR. */
  emit(text: string): Promise<void> {
    return new Promise((resolve, reject) => this.#port.write(`${text}\r`, (e) => (e ? reject(e) : this.#port.drain(() => resolve()))));
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.#port.isOpen ? this.#port.close(() => resolve()) : resolve()));
  }
}

function nextLine(scanner: Scanner, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`nextLine: no line within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = scanner.onLine((line) => {
      clearTimeout(timer);
      off();
      resolve(line);
    });
  });
}

describe.runIf(HAVE_SOCAT)('GM65 setup through createScanner over a socat pty', () => {
  let dir: string;
  let pair: PtyPair;
  let bridge: ModuleBridge;
  const scanners: Scanner[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gm65-pty-'));
    pair = await startPtyPair(join(dir, 'scanner'), join(dir, 'module'));
    // factory state of a module someone left in command mode with a TAB terminator
    const sim = new Gm65Simulator({ baudRate: 9600, zones: { [Gm65Zone.mode]: 0b01, [Gm65Zone.output]: GM65_TERMINATORS.TAB << 5 } });
    bridge = await ModuleBridge.open(pair.b, pair.a, sim);
  });

  afterEach(async () => {
    for (const s of scanners.splice(0)) await s.close();
    await bridge?.close();
    await pair?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const config = (): Extract<BoxConfig['scanner'], { kind: 'serial' }> => ({
    kind: 'serial',
    path: pair.a,
    baudRate: 9600,
    delimiter: '\r',
    maxLineBytes: 4096,
    gm65: { configure: true, targetBaud: 115200 },
  });

  it('configures the module once, leaves it alone the second time, then reads lines at the target baud', async () => {
    const { sim } = bridge;
    const first = await createScanner(config(), silentLog);
    scanners.push(first);
    expect(sim.zones.get(Gm65Zone.mode)! & 0b11).toBe(0b10); // continuous
    expect(sim.zones.get(Gm65Zone.scanEnable)! & 0x01).toBe(1);
    expect((sim.zones.get(Gm65Zone.output)! >> 5) & 0b11).toBe(GM65_TERMINATORS.CR);
    const code = GM65_BAUD_CODES[115200]!;
    expect([sim.zones.get(0x002a), sim.zones.get(0x002b)]).toEqual([code & 0xff, code >> 8]);
    expect(sim.baudRate).toBe(115200);
    expect(sim.eepromSaves).toBe(1);
    const writesAfterFirst = sim.zoneWrites;
    expect(writesAfterFirst).toBe(4); // mode, scanEnable, terminator, baud

    // A restart: the module already answers at 115200 and holds every value; nothing is written.
    const second = await createScanner(config(), silentLog);
    scanners.push(second);
    expect(sim.eepromSaves).toBe(1);
    expect(sim.zoneWrites).toBe(writesAfterFirst);

    await second.open();
    expect(hostBaud(pair.a)).toBe(115200); // the line reader runs at the module's new baud
    const got = nextLine(second);
    await bridge.emit('QRPAY-TEST-1');
    expect(await got).toBe('QRPAY-TEST-1');
    const again = nextLine(second);
    await bridge.emit('QRPAY-TEST-2');
    expect(await again).toBe('QRPAY-TEST-2');
  }, 20_000);

  it('reads lines at the configured baud when the module never answers', async () => {
    bridge.sim.mute = true;
    const scanner = await createScanner(config(), silentLog);
    scanners.push(scanner);
    expect(bridge.sim.eepromSaves).toBe(0);
    await scanner.open();
    expect(hostBaud(pair.a)).toBe(9600);
    const got = nextLine(scanner);
    await bridge.emit('PLAIN-LINE');
    expect(await got).toBe('PLAIN-LINE');
  }, 20_000);
});

describe.skipIf(HAVE_SOCAT)('GM65 setup over a socat pty', () => {
  it.todo('needs the Debian package socat on PATH');
});
