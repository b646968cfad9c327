/**
 * pino, written synchronously to stdout: an async destination loses lines on SIGKILL, and journald
 * keeps stdout. Redaction is configured here, once.
 */
import pino from 'pino';
import type { Log } from '../../drivers/common/log.ts';

export const REDACT_PATHS = [
  'seed',
  'secret',
  'key',
  'privateKey',
  'plaintext',
  'text',
  'accountToken',
  'token',
  'record',
  '*.seed',
  '*.secret',
  '*.privateKey',
  '*.plaintext',
  '*.accountToken',
];

export function createLogger(level: string, destination: number | string = 1): Log {
  return pino(
    { level, base: { app: 'qrpay-box' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: destination, sync: true }),
  ) as unknown as Log;
}
