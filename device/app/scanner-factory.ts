/** Builds the scanner named by the config; serial bindings load only when chosen. */
import type { Log } from '../../drivers/common/log.ts';
import type { Scanner } from '../../drivers/scanner/types.ts';
import type { BoxConfig } from './config.ts';

type SerialConfig = Extract<BoxConfig['scanner'], { kind: 'serial' }>;

/**
 * Optional GM65-family setup before line mode: probe the module's current baud, then set
 * continuous mode, the CR terminator and the target baud (EEPROM written only when a value
 * changes). Returns the baud rate to read lines at. A module that does not answer is not fatal:
 * the box keeps reading lines at the configured rate.
 */
async function configureGm65(cfg: SerialConfig, log: Log): Promise<number> {
  const { openSerialByteTransport } = await import('../../drivers/scanner/serial-bytes.ts');
  const { Gm65 } = await import('../../drivers/scanner/gm65.ts');
  const target = cfg.gm65?.targetBaud ?? 115200;
  let transport: Awaited<ReturnType<typeof openSerialByteTransport>> | undefined;
  try {
    transport = await openSerialByteTransport({ path: cfg.path, baudRate: cfg.baudRate });
    const gm65 = new Gm65(transport, { log });
    const current = await gm65.probeBaud();
    if (current === undefined) {
      log.warn({ event: 'gm65.no-answer', code: 'GM65_NO_ANSWER' }, 'GM65 did not answer at any baud rate; reading lines as configured');
      return cfg.baudRate;
    }
    const r = await gm65.configure({ terminator: cfg.delimiter === '\r\n' ? 'CRLF' : cfg.delimiter === '\t' ? 'TAB' : 'CR', baudRate: target });
    log.info({ event: 'gm65.configured', fromBaud: current, baud: target, written: r.written, saved: r.saved, firmware: r.firmware }, 'GM65 configured');
    return target;
  } catch (e) {
    log.warn({ event: 'gm65.failed', code: 'GM65_SETUP_FAILED', err: e instanceof Error ? e.message : String(e) }, 'GM65 setup failed; reading lines as configured');
    return cfg.baudRate;
  } finally {
    await transport?.close();
  }
}

export async function createScanner(cfg: BoxConfig['scanner'], log: Log): Promise<Scanner> {
  const l = log.child({ scannerKind: cfg.kind });
  switch (cfg.kind) {
    case 'tcp-sim': {
      const { TcpSimScanner } = await import('../../drivers/scanner/tcp-sim.ts');
      return new TcpSimScanner({ host: cfg.host, port: cfg.port }, { log: l });
    }
    case 'serial': {
      const baudRate = cfg.gm65?.configure ? await configureGm65(cfg, l) : cfg.baudRate;
      const { SerialLineScanner } = await import('../../drivers/scanner/serial-line.ts');
      return new SerialLineScanner({ path: cfg.path, baudRate, delimiter: cfg.delimiter, maxLineBytes: cfg.maxLineBytes }, { log: l });
    }
  }
}
