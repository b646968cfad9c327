/** Builds the scanner named by the config; serial bindings load only when chosen. */
import type { Log } from '../../drivers/common/log.ts';
import type { Scanner } from '../../drivers/scanner/types.ts';
import type { BoxConfig } from './config.ts';

export async function createScanner(cfg: BoxConfig['scanner'], log: Log): Promise<Scanner> {
  const l = log.child({ driver: 'scanner', kind: cfg.kind });
  switch (cfg.kind) {
    case 'tcp-sim': {
      const { TcpSimScanner } = await import('../../drivers/scanner/tcp-sim.ts');
      return new TcpSimScanner({ host: cfg.host, port: cfg.port }, { log: l });
    }
    case 'serial': {
      const { SerialLineScanner } = await import('../../drivers/scanner/serial-line.ts');
      return new SerialLineScanner({ path: cfg.path, baudRate: cfg.baudRate, delimiter: cfg.delimiter, maxLineBytes: cfg.maxLineBytes }, { log: l });
    }
  }
}
