// Types only (serialport's own dependency): @serialport/bindings-interface's ESM entry has no typings.
import type { BindingInterface } from '@serialport/bindings-cpp';
import type { SerialPort } from 'serialport';
import { BoxError } from '../../device/core/errors.ts';
import type { ByteTransport } from './gm65.ts';
import { errorMessage } from './scanner-events.ts';

export interface SerialByteTransport extends ByteTransport {
  close(): Promise<void>;
}

/**
 * Opens a serial port as a raw ByteTransport for the GM65 command layer (setup only: close it
 * before SerialLineScanner opens the same path). Throws BoxError when the port cannot be opened.
 */
export async function openSerialByteTransport(opts: {
  path: string;
  baudRate: number;
  binding?: BindingInterface;
}): Promise<SerialByteTransport> {
  let port: SerialPort;
  try {
    const { SerialPort } = await import('serialport');
    const options: ConstructorParameters<typeof SerialPort>[0] & { binding: BindingInterface } = {
      path: opts.path,
      baudRate: opts.baudRate,
      autoOpen: false,
      binding: opts.binding ?? SerialPort.binding,
    };
    port = new SerialPort(options);
    port.on('error', () => {});
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  } catch (e) {
    throw new BoxError('SCANNER_UNAVAILABLE', `gm65.open: cannot open ${opts.path}: ${errorMessage(e)}`, {
      retryable: true,
      cause: e,
    });
  }
  return {
    write: (bytes) =>
      new Promise<void>((resolve, reject) => {
        port.write(Buffer.from(bytes), (err) => (err ? reject(err) : port.drain((e) => (e ? reject(e) : resolve()))));
      }),
    onData: (cb) => {
      const listener = (chunk: Buffer) => cb(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
      port.on('data', listener);
      return () => port.off('data', listener);
    },
    setBaudRate: (baudRate) =>
      new Promise<void>((resolve, reject) => port.update({ baudRate }, (err) => (err ? reject(err) : resolve()))),
    close: async () => {
      if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    },
  };
}
