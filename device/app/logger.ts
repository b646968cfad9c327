/**
 * pino, written synchronously to stdout: an async destination loses lines on SIGKILL, and journald
 * keeps stdout. Redaction is configured here, once.
 */
import pino from 'pino';
import type { Log } from '../../drivers/common/log.ts';

/** Field names that hold a key, a seed, a token, a plaintext or envelope text, or a debit record. */
const SECRET_FIELDS = [
  'seed',
  'deviceSeed',
  'encSeed',
  'secret',
  'secrets',
  'sharedSecret',
  'encSecret',
  'sessionSecret',
  'merchantSecret',
  'key',
  'privateKey',
  'plaintext',
  'text',
  'accountToken',
  'cardToken',
  'enrolToken',
  'adminToken',
  'token',
  'record',
] as const;

/** Each field at the top level and one level down (pino's `*.x`), e.g. `{ wallet: { seed } }`. */
export const REDACT_PATHS: readonly string[] = [...SECRET_FIELDS, ...SECRET_FIELDS.map((f) => `*.${f}`)];

export function createLogger(level: string, destination: number | string = 1): Log {
  return pino(
    { level, base: { app: 'qrpay-box' }, redact: { paths: [...REDACT_PATHS], censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: destination, sync: true }),
  ) as unknown as Log;
}
