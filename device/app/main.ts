/**
 * `scanner` — the box's command line.
 *
 *   scanner run [--config file]          run the box (default: config/default.json or $QRPAY_CONFIG)
 *   scanner decode <text|file> --keys <stateDir> [--amount 12.50] [--charge-id C1]
 *   scanner status | selftest | provision | journal export   (device/app/commands/cli.ts)
 */
import { parseArgs } from 'node:util';
import { isBoxError } from '../core/errors.ts';
import { startBox } from './box.ts';
import { FIELD_USAGE, runFieldCommand } from './commands/cli.ts';
import { loadConfig } from './config.ts';
import { decodeCommand } from './decode-command.ts';
import { createLogger } from './logger.ts';

const USAGE = `usage: scanner run [--config file]
       scanner decode <text|file> --keys <stateDir> [--amount 12.50] [--charge-id ID] [--require-challenge]
${FIELD_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const field = await runFieldCommand(argv);
  if (field !== undefined) return field;
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      keys: { type: 'string' },
      amount: { type: 'string' },
      'charge-id': { type: 'string' },
      'require-challenge': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [cmd, arg] = positionals;
  if (values.help || !cmd) {
    process.stdout.write(USAGE);
    return cmd ? 0 : 2;
  }
  if (cmd === 'decode') {
    if (!arg || !values.keys) {
      process.stderr.write(USAGE);
      return 2;
    }
    const out = decodeCommand({
      input: arg,
      keysDir: values.keys,
      ...(values.amount !== undefined ? { amount: values.amount } : {}),
      ...(values['charge-id'] !== undefined ? { chargeId: values['charge-id'] } : {}),
      ...(values['require-challenge'] ? { requireChallenge: true } : {}),
    });
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return (out as { decision: string }).decision === 'accept' ? 0 : 1;
  }
  if (cmd === 'run') {
    const config = loadConfig(values.config ?? process.env.QRPAY_CONFIG ?? 'config/default.json');
    const log = createLogger(config.log.level);
    const box = await startBox(config, { log });
    const stop = (signal: string) => {
      log.info({ event: 'box.stopping', signal }, 'stopping');
      box.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    return -1;
  }
  process.stderr.write(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (e: unknown) => {
    process.stderr.write(`scanner: ${isBoxError(e) ? `[${e.code}] ` : ''}${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
