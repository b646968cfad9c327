/**
 * Starts the POS link from its configuration: loads the MAC key, refuses a non-loopback TCP address
 * without one, and opens the transport.
 */
import { readFileSync } from 'node:fs';
import type { Log } from '../../../drivers/common/log.ts';
import type { CryptoProvider } from '../../core/crypto/provider.ts';
import { BoxError } from '../../core/errors.ts';
import type { Journal } from '../../journal/types.ts';
import type { PosConfig } from '../config.ts';
import { PosAuth } from './auth.ts';
import type { ChargeBook } from './charge-book.ts';
import { PosLink } from './link.ts';
import { isLoopback, type PosTransport, startPosSerial, startPosTcp } from './transports.ts';
import type { WriterQueue } from './writer-queue.ts';

export interface PosLinkHandle {
  link: PosLink;
  transport: PosTransport;
  close(): Promise<void>;
}

export interface PosLinkDeps {
  book: ChargeBook;
  queue: WriterQueue;
  journal: Pick<Journal, 'getMeta' | 'setMeta'>;
  p: Pick<CryptoProvider, 'hmacSha256'>;
  log: Log;
}

/** Reads a key file holding 32-64 bytes as hex (whitespace ignored). */
export function loadPosKey(path: string): Uint8Array {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new BoxError('POS_KEY_MISSING', `pos: cannot read keyFile ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const hex = text.replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2}){32,64}$/.test(hex)) throw new BoxError('POS_KEY_INVALID', `pos: keyFile ${path} must hold 32 to 64 bytes as hex`);
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

export async function startPosLink(cfg: PosConfig, deps: PosLinkDeps): Promise<PosLinkHandle> {
  if (cfg.transport === 'tcp' && !isLoopback(cfg.host) && !cfg.keyFile) {
    throw new BoxError(
      'POS_KEY_REQUIRED',
      `pos: host ${JSON.stringify(cfg.host)} is not loopback: every message must be authenticated, set pos.keyFile to the provisioned HMAC key`,
    );
  }
  const key = cfg.keyFile ? loadPosKey(cfg.keyFile) : null;
  const auth = key
    ? new PosAuth(key, (k, d) => deps.p.hmacSha256(k, d), {
        get: (k) => deps.journal.getMeta(k),
        set: (k, v) => deps.journal.setMeta(k, v),
      })
    : null;
  const link = new PosLink({ book: deps.book, queue: deps.queue, auth, log: deps.log });
  const transport =
    cfg.transport === 'tcp'
      ? await startPosTcp(link, { host: cfg.host, port: cfg.port, log: deps.log })
      : await startPosSerial(link, { path: cfg.path, baudRate: cfg.baudRate, log: deps.log });
  return {
    link,
    transport,
    async close() {
      link.close();
      await transport.close();
    },
  };
}
