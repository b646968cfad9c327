import type { BindingInterface, BindingPortInterface, OpenOptions } from '@serialport/bindings-cpp';
import { SerialPortMock } from 'serialport';

// @serialport/binding-mock's ESM entry has no typings; serialport re-exposes the same object typed.
const MockBinding = SerialPortMock.binding;

/**
 * A serialport binding over @serialport/binding-mock that can simulate USB unplug and replug.
 * `links` plays the role of udev symlinks (e.g. /dev/qrscanner -> /dev/ttyACM0); pass
 * `resolvePath` to the driver so it re-resolves them on reconnect.
 * MockBinding keeps its ports in module state, so each harness uses unique paths.
 */
export class UnpluggableMockBinding implements BindingInterface {
  readonly links = new Map<string, string>();
  readonly #present = new Set<string>();
  readonly #open = new Map<string, { port: BindingPortInterface; unplug: (e: Error) => void }>();
  /** Paths passed to open(), in order. */
  readonly opens: string[] = [];

  plug(devicePath: string): void {
    MockBinding.createPort(devicePath, { maxReadSize: 4096 });
    this.#present.add(devicePath);
  }

  /**
   * Removes the device: its pending read fails with a non-canceled error, like EIO on unplug.
   * With `silent`, the read just hangs, as Linux sometimes does (node-serialport#1465).
   */
  unplug(devicePath: string, opts: { silent?: boolean } = {}): void {
    this.#present.delete(devicePath);
    if (!opts.silent) this.#open.get(devicePath)?.unplug(new Error(`EIO: ${devicePath} unplugged`));
  }

  isPresent = async (devicePath: string): Promise<boolean> => this.#present.has(devicePath);

  resolvePath = async (p: string): Promise<string> => this.links.get(p) ?? p;

  /** Bytes arriving from the device at `devicePath`. */
  feed(devicePath: string, data: Uint8Array | string): void {
    const entry = this.#open.get(devicePath);
    if (!entry) throw new Error(`feed: ${devicePath} is not open`);
    (entry.port as unknown as { emitData(d: Buffer): void }).emitData(
      typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data),
    );
  }

  isOpen(devicePath: string): boolean {
    return this.#open.get(devicePath)?.port.isOpen ?? false;
  }

  async list() {
    return MockBinding.list();
  }

  async open(options: OpenOptions): Promise<BindingPortInterface> {
    this.opens.push(options.path);
    if (!this.#present.has(options.path)) throw new Error(`ENOENT: no such device ${options.path}`);
    const port = await MockBinding.open(options);
    let failReads: ((e: Error) => void) | undefined;
    const unplugged = new Promise<never>((_, reject) => {
      failReads = reject;
    });
    unplugged.catch(() => {});
    const read = port.read.bind(port);
    port.read = (buffer, offset, length) => Promise.race([read(buffer, offset, length), unplugged]);
    this.#open.set(options.path, { port, unplug: (e) => failReads!(e) });
    return port;
  }
}
