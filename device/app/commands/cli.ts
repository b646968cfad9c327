/**
 * The field commands of `scanner` (provision, selftest, status, journal export). main.ts hands
 * them argv first; undefined means "not one of these".
 */
import { parseArgs } from 'node:util';
import { nobleProvider } from '../../core/crypto/noble.ts';
import { createNodeProvider } from '../../crypto/node-provider.ts';
import { type BoxConfig, loadConfig } from '../config.ts';
import { journalExportCommand } from './journal-export.ts';
import { provisionCommand } from './provision-command.ts';
import { selftestCommand } from './selftest-command.ts';
import { type CommandIo, statusCommand } from './status-command.ts';

export const FIELD_USAGE = `       scanner status [--config f] [--json]
       scanner selftest [--config f] [--json] [--scan-timeout sec] [--modem /dev/lte-at]
       scanner provision [--config f] --merchant-id X --name "Shop" [--currency EUR] [--lat 52.5 --lon 13.4] [--cell ID]... [--bssid MAC]...
                         (--backend URL --enrol-token T | --request-out req.json) [--rotate [--drop-previous]]
       scanner provision [--config f] --import bundle.json [--backend URL]
       scanner journal export --from 2026-11-01 --to 2026-11-30 [--format csv|json] [--config f]
`;

const stdio: CommandIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

function configOf(path: string | undefined): BoxConfig {
  return loadConfig(path ?? process.env.QRPAY_CONFIG ?? 'config/default.json');
}

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`scanner: --${name} expects a number, got ${JSON.stringify(v)}`);
  return n;
}

export async function runFieldCommand(argv: string[], io: CommandIo = stdio): Promise<number | undefined> {
  const cmd = argv[0];
  if (cmd === 'status') {
    const { values } = parseArgs({ args: argv.slice(1), options: { config: { type: 'string' }, json: { type: 'boolean' } } });
    return statusCommand(configOf(values.config), { json: values.json === true }, io);
  }
  if (cmd === 'selftest') {
    const { values } = parseArgs({
      args: argv.slice(1),
      options: { config: { type: 'string' }, json: { type: 'boolean' }, 'scan-timeout': { type: 'string' }, modem: { type: 'string' } },
    });
    const scanTimeout = num('scan-timeout', values['scan-timeout']);
    return selftestCommand(
      configOf(values.config),
      {
        json: values.json === true,
        ...(scanTimeout !== undefined ? { scanTimeoutMs: scanTimeout * 1000 } : {}),
        ...(values.modem ? { env: { modemPath: values.modem } } : {}),
      },
      io,
    );
  }
  if (cmd === 'provision') {
    const { values } = parseArgs({
      args: argv.slice(1),
      options: {
        config: { type: 'string' },
        'merchant-id': { type: 'string' },
        name: { type: 'string' },
        currency: { type: 'string' },
        lat: { type: 'string' },
        lon: { type: 'string' },
        cell: { type: 'string', multiple: true },
        bssid: { type: 'string', multiple: true },
        backend: { type: 'string' },
        'enrol-token': { type: 'string' },
        'request-out': { type: 'string' },
        import: { type: 'string' },
        rotate: { type: 'boolean' },
        'drop-previous': { type: 'boolean' },
      },
    });
    const cfg = configOf(values.config);
    const lat = num('lat', values.lat);
    const lon = num('lon', values.lon);
    return provisionCommand(
      cfg,
      {
        ...(values['merchant-id'] !== undefined ? { merchantId: values['merchant-id'] } : {}),
        ...(values.name !== undefined ? { name: values.name } : {}),
        ...(values.currency !== undefined ? { currency: values.currency } : {}),
        ...(lat !== undefined ? { lat } : {}),
        ...(lon !== undefined ? { lon } : {}),
        ...(values.cell ? { cells: values.cell } : {}),
        ...(values.bssid ? { bssids: values.bssid } : {}),
        ...(values.backend !== undefined ? { backend: values.backend } : {}),
        ...(values['enrol-token'] !== undefined ? { enrolToken: values['enrol-token'] } : {}),
        ...(values['request-out'] !== undefined ? { requestOut: values['request-out'] } : {}),
        ...(values.import !== undefined ? { importFile: values.import } : {}),
        rotate: values.rotate === true,
        dropPrevious: values['drop-previous'] === true,
      },
      io,
      { provider: cfg.crypto === 'node' ? createNodeProvider() : nobleProvider },
    );
  }
  if (cmd === 'journal') {
    const { positionals, values } = parseArgs({
      args: argv.slice(1),
      allowPositionals: true,
      options: { config: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, format: { type: 'string' } },
    });
    const format = values.format ?? 'csv';
    if (positionals[0] !== 'export' || !values.from || !values.to || (format !== 'csv' && format !== 'json')) {
      io.err(`usage:\n${FIELD_USAGE}`);
      return 2;
    }
    return journalExportCommand(configOf(values.config), { from: values.from, to: values.to, format }, io);
  }
  return undefined;
}
