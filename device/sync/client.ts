/**
 * HTTP client of the box for the back-end API v1 (docs/backend-api.md). Every request to
 * /v1/box/* except the nonce is signed with the box device key over a fresh server nonce.
 *
 * Failure model: every method resolves with a validated, signature-checked value or rejects with
 * a BoxError whose `retryable` flag tells the caller whether trying again later can help:
 *   SYNC_TIMEOUT (r)       no complete answer within timeoutMs (the request is aborted)
 *   SYNC_NETWORK (r)       refused, reset, dropped connection, DNS
 *   SYNC_SERVER_ERROR (r)  HTTP 5xx
 *   SYNC_BAD_REPLY (r)     not JSON, wrong shape, too large, wrong batchSeq echoed
 *   SYNC_BAD_SIGNATURE (r) signed time / revocations fail the pinned or issuer key (logged loudly)
 *   SYNC_BAD_AUTH (r)      401 BAD_AUTH / BAD_NONCE (a nonce expired on a slow link)
 *   SYNC_UNKNOWN_BOX       401 UNKNOWN_BOX: the back end does not know this box
 *   SYNC_BOX_REVOKED       403 BOX_REVOKED
 *   SYNC_REFUSED           any other 4xx (the message carries the back end's error code)
 *   SYNC_TLS_PIN           https with `tlsPins`: the server's public key matches no pin (logged)
 * Nothing here throws synchronously and no reply can crash the box.
 *
 * TLS: without pins, https uses Node's normal verification (CA chain, host name and certificate
 * dates against the system clock, which fails on a box that boots in 1970). With pins, the
 * certificate chain, name and dates are NOT checked; the server's SubjectPublicKeyInfo must hash
 * to one of the pins, and freshness comes from the back end's signed time instead. The request
 * (headers and body) is written only after the pin matched.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions, type RequestOptions as HttpsRequestOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { z } from 'zod';
import { batchAckMessage } from '../core/protocol/batch-ack.ts';
import type { Log } from '../../drivers/common/log.ts';
import { silentLog } from '../../drivers/common/log.ts';
import type { CryptoProvider, Ed25519Signer } from '../core/crypto/provider.ts';
import { fromHex, toHex } from '../core/encoding/bytes.ts';
import { BoxError, isBoxError } from '../core/errors.ts';
import { authMessage, revocationsMessage, timeMessage } from './signed-messages.ts';

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`));
const safeInt = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const NonceReply = z.object({ nonce: hex(16) });
const ErrorReply = z.object({ error: z.string().max(64) });
export const BatchAckSchema = z.object({
  batchSeq: safeInt,
  results: z.array(z.object({ debitId: z.string().min(1).max(64), status: z.enum(['settled', 'duplicate', 'rejected']), code: z.string().max(64).optional() })),
  voids: z.array(z.object({ debitId: z.string().min(1).max(64), status: z.enum(['voided', 'rejected']), code: z.string().max(64).optional() })).default([]),
  keyId: hex(8),
  signature: hex(64),
});
/** A verified acknowledgement (the signature is checked by the client and dropped). */
export type BatchAck = Omit<z.infer<typeof BatchAckSchema>, 'keyId' | 'signature'>;
const TimeReply = z.object({ timeMs: safeInt, keyId: hex(8), signature: hex(64) });
const RevocationsReply = z.object({
  version: z.number().int().nonnegative().max(0xffffffff),
  issuedAtMs: safeInt,
  wallets: z.array(hex(32)),
  keyId: hex(8),
  signature: hex(64),
});
const UpdatesReply = z.object({
  bundle: z.unknown().nullable(),
  rejections: z.array(z.object({ debitId: z.string().min(1).max(64), code: z.string().min(1).max(64) })).default([]),
  // Each statement is checked on its own (device/sync/key-rollover.ts), so one bad entry cannot
  // make the whole reply (rejections, bundle) unusable; absent on older back ends.
  keyRollovers: z.array(z.unknown()).max(4096).default([]),
});

export interface Revocations {
  version: number;
  issuedAtMs: number;
  wallets: string[];
}

export interface Updates {
  /** Not yet validated: the caller checks it against the box keys (provision.importBundle). */
  bundle: unknown;
  rejections: { debitId: string; code: string }[];
  /** Not yet validated: key rollover statements (device/sync/key-rollover.ts checks each). */
  keyRollovers?: unknown[];
}

export interface BackendKey {
  keyId: string;
  publicKey: Uint8Array;
}

export interface SyncClientOptions {
  /** e.g. http://127.0.0.1:8420 or https://acquirer.example (no trailing /v1). */
  baseUrl: string;
  p: CryptoProvider;
  device: Ed25519Signer;
  deviceKeyId: Uint8Array;
  /** The back-end signing key pinned at provisioning (signs the time). */
  backendKey: BackendKey;
  /** Trusted issuer keys by key id hex (they sign the revocation list). */
  issuers: () => ReadonlyMap<string, Uint8Array>;
  /** Whole-request deadline, default 20 s. */
  timeoutMs?: number;
  /** Larger replies are SYNC_BAD_REPLY, default 4 MiB. */
  maxReplyBytes?: number;
  /**
   * https only: base64 SHA-256 of the server's DER SubjectPublicKeyInfo (see spkiSha256). When
   * non-empty, the key pin replaces certificate verification (no chain, name or date checks).
   */
  tlsPins?: readonly string[];
  log?: Log;
}

/** The pin of a certificate (DER or PEM): base64 SHA-256 of its DER SubjectPublicKeyInfo. */
export function spkiSha256(cert: Uint8Array | string): string {
  const spki = new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/**
 * An https agent that checks the peer's public key against pins when the handshake completes.
 * INVARIANTS: every socket it creates has a verdict before any byte of a request is written
 * (send() waits on it); a socket whose key matches no pin is destroyed and never reused; TLS
 * sessions are not cached, so every connection shows its certificate.
 */
class PinnedHttpsAgent extends HttpsAgent {
  private readonly verdicts = new WeakMap<object, Promise<void>>();

  constructor(
    opts: HttpsAgentOptions,
    private readonly pins: ReadonlySet<string>,
    private readonly onMismatch: (got: string, host: string) => BoxError,
  ) {
    super({ ...opts, rejectUnauthorized: false, maxCachedSessions: 0 });
  }

  /** Resolves once `socket` showed a pinned key; undefined for a socket this agent did not make. */
  verdict(socket: object): Promise<void> | undefined {
    return this.verdicts.get(socket);
  }

  override createConnection(options: HttpsRequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const socket = super.createConnection(options, callback) as TLSSocket | null | undefined;
    if (!socket) return socket;
    const host = String(options.servername ?? options.host ?? options.hostname ?? '');
    const verdict = new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => {
        let got = '(no certificate)';
        try {
          const raw = socket.getPeerCertificate().raw;
          if (raw && raw.length > 0) got = spkiSha256(raw);
        } catch {
          got = '(unreadable certificate)';
        }
        if (this.pins.has(got)) return resolve();
        const err = this.onMismatch(got, host);
        reject(err);
        socket.destroy(err);
      });
      socket.once('close', () => reject(new BoxError('SYNC_NETWORK', `SyncClient: TLS connection to ${host} closed before the handshake`, { retryable: true })));
    });
    verdict.catch(() => undefined); // send() observes it; a socket nobody asked about must not crash
    this.verdicts.set(socket, verdict);
    return socket;
  }
}

/** Bytes on the wire (HTTP headers included, TLS excluded), counted from the socket. */
export interface WireStats {
  requests: number;
  bytesOut: number;
  bytesIn: number;
}

interface Reply {
  status: number;
  json: unknown;
}

export class SyncClient {
  readonly stats: WireStats = { requests: 0, bytesOut: 0, bytesIn: 0 };
  private readonly base: URL;
  private readonly agent: HttpAgent;
  private readonly pinnedAgent: PinnedHttpsAgent | undefined;
  private readonly log: Log;

  constructor(private readonly o: SyncClientOptions) {
    this.base = new URL(o.baseUrl);
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new BoxError('CONFIG_INVALID', `SyncClient: baseUrl must be http(s), got ${JSON.stringify(this.base.protocol)}`);
    }
    this.log = o.log ?? silentLog;
    const pins = o.tlsPins ?? [];
    for (const pin of pins) {
      if (!/^[A-Za-z0-9+/]{43}=$/.test(pin)) throw new BoxError('CONFIG_INVALID', `SyncClient: tlsPins entry must be base64 of 32 bytes, got ${JSON.stringify(pin)}`);
    }
    // One kept-alive connection: LTE round trips and handshakes cost more than the bytes.
    const agentOpts = { keepAlive: true, maxSockets: 1, keepAliveMsecs: 10_000 };
    if (this.base.protocol === 'https:' && pins.length > 0) {
      this.pinnedAgent = new PinnedHttpsAgent(agentOpts, new Set(pins), (got, host) => {
        this.log.error({ event: 'sync.tls-pin-mismatch', host, got, pins: pins.length }, 'back-end TLS key matches no pinned key');
        return new BoxError('SYNC_TLS_PIN', `SyncClient: TLS key of ${host} (sha256 ${got}) matches none of the ${pins.length} pinned keys`);
      });
      this.agent = this.pinnedAgent;
    } else {
      if (pins.length > 0) this.log.warn({ event: 'sync.tls-pins-unused', backend: this.base.origin }, 'sync TLS pins are set but the back-end URL is plain http');
      this.pinnedAgent = undefined;
      this.agent = this.base.protocol === 'https:' ? new HttpsAgent(agentOpts) : new HttpAgent(agentOpts);
    }
  }

  close(): void {
    this.agent.destroy();
  }

  /** POST /v1/box/batches with the signed batch bytes; checks the echoed batchSeq. */
  async uploadBatch(batchSeq: number, bytes: Uint8Array): Promise<BatchAck> {
    const r = await this.authed('POST', '/v1/box/batches', bytes);
    const ack = this.parse(BatchAckSchema, r.json, 'uploadBatch');
    if (ack.batchSeq !== batchSeq) throw new BoxError('SYNC_BAD_REPLY', `SyncClient.uploadBatch: sent batchSeq ${batchSeq}, ack names ${ack.batchSeq}`, { retryable: true });
    // The ack makes the box mark debits settled and later prune them: it must be the back end's.
    const key = this.o.backendKey;
    const message = batchAckMessage(this.o.p, bytes, ack.batchSeq, ack.results, ack.voids);
    if (ack.keyId !== key.keyId || !this.o.p.ed25519Verify(key.publicKey, message, fromHex(ack.signature))) {
      this.log.error({ event: 'sync.bad-signature', what: 'batch-ack', keyId: ack.keyId }, 'batch acknowledgement fails the pinned back-end key');
      throw new BoxError('SYNC_BAD_SIGNATURE', `SyncClient.uploadBatch: ack signed by key ${ack.keyId} does not verify against the pinned key ${key.keyId}`, { retryable: true });
    }
    return { batchSeq: ack.batchSeq, results: ack.results, voids: ack.voids };
  }

  /** GET /v1/box/time over a fresh box nonce; verified against the pinned back-end key. */
  async signedTime(): Promise<number> {
    const boxNonce = this.o.p.randomBytes(16);
    const r = await this.authed('GET', `/v1/box/time?nonce=${toHex(boxNonce)}`);
    const t = this.parse(TimeReply, r.json, 'signedTime');
    const key = this.o.backendKey;
    if (t.keyId !== key.keyId || !this.o.p.ed25519Verify(key.publicKey, timeMessage(boxNonce, t.timeMs), fromHex(t.signature))) {
      this.log.error({ event: 'sync.bad-signature', what: 'time', keyId: t.keyId }, 'signed time fails the pinned back-end key');
      throw new BoxError('SYNC_BAD_SIGNATURE', `SyncClient.signedTime: signature by key ${t.keyId} does not verify against the pinned key ${key.keyId}`, { retryable: true });
    }
    return t.timeMs;
  }

  /** GET /v1/box/revocations; verified against a trusted issuer key. */
  async revocations(): Promise<Revocations> {
    const r = await this.authed('GET', '/v1/box/revocations');
    const v = this.parse(RevocationsReply, r.json, 'revocations');
    const key = this.o.issuers().get(v.keyId);
    if (!key || !this.o.p.ed25519Verify(key, revocationsMessage(this.o.p, v.version, v.issuedAtMs, v.wallets), fromHex(v.signature))) {
      this.log.error({ event: 'sync.bad-signature', what: 'revocations', keyId: v.keyId, known: key !== undefined }, 'revocation list fails the issuer key');
      throw new BoxError('SYNC_BAD_SIGNATURE', `SyncClient.revocations: list version ${v.version} is not signed by a trusted issuer (key ${v.keyId})`, { retryable: true });
    }
    return { version: v.version, issuedAtMs: v.issuedAtMs, wallets: v.wallets };
  }

  /** GET /v1/box/updates: a renewed bundle and key rollovers (both unverified) and the debits the acquirer rejected later. */
  async updates(): Promise<Updates> {
    const r = await this.authed('GET', '/v1/box/updates');
    const u = this.parse(UpdatesReply, r.json, 'updates');
    return { bundle: u.bundle ?? null, rejections: u.rejections, ...(u.keyRollovers.length > 0 ? { keyRollovers: u.keyRollovers } : {}) };
  }

  private async nonce(): Promise<string> {
    const r = await this.send('POST', '/v1/box/nonce', new Uint8Array(0), {});
    return this.parse(NonceReply, r.json, 'nonce').nonce;
  }

  private async authed(method: 'GET' | 'POST', pathWithQuery: string, body: Uint8Array = new Uint8Array(0)): Promise<Reply> {
    const nonce = await this.nonce();
    const full = this.fullPath(pathWithQuery);
    const sig = this.o.device.sign(authMessage(this.o.p, method, full, nonce, body));
    return this.send(method, pathWithQuery, body, {
      'X-Box-Key-Id': toHex(this.o.deviceKeyId),
      'X-Box-Nonce': nonce,
      'X-Box-Signature': toHex(sig),
    });
  }

  private fullPath(pathWithQuery: string): string {
    const prefix = this.base.pathname.replace(/\/+$/, '');
    return `${prefix}${pathWithQuery}`;
  }

  private parse<T>(schema: z.ZodType<T>, json: unknown, fn: string): T {
    const r = schema.safeParse(json);
    if (r.success) return r.data;
    const at = r.error.issues[0]?.path.join('.') || '(root)';
    throw new BoxError('SYNC_BAD_REPLY', `SyncClient.${fn}: reply has the wrong shape at ${at}`, { retryable: true });
  }

  private send(method: 'GET' | 'POST', pathWithQuery: string, body: Uint8Array, headers: Record<string, string>): Promise<Reply> {
    const timeoutMs = this.o.timeoutMs ?? 20_000;
    const maxReply = this.o.maxReplyBytes ?? 4 * 1024 * 1024;
    const fn = `SyncClient ${method} ${pathWithQuery.split('?')[0]}`;
    const doRequest = this.base.protocol === 'https:' ? httpsRequest : httpRequest;
    this.stats.requests++;
    return new Promise<Reply>((resolve, reject) => {
      let settled = false;
      let sockOut0 = 0;
      let sockIn0 = 0;
      let sock: { bytesWritten: number; bytesRead: number } | undefined;
      const finish = (err: BoxError | null, reply?: Reply): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (sock) {
          this.stats.bytesOut += sock.bytesWritten - sockOut0;
          this.stats.bytesIn += sock.bytesRead - sockIn0;
        }
        if (err) {
          req.destroy();
          reject(err);
        } else resolve(reply as Reply);
      };
      const url = new URL(this.fullPath(pathWithQuery), this.base);
      const req = doRequest(url, {
        method,
        agent: this.agent,
        headers: {
          ...headers,
          accept: 'application/json',
          ...(method === 'POST' ? { 'content-type': 'application/octet-stream', 'content-length': String(body.length) } : {}),
        },
      });
      const timer = setTimeout(() => finish(new BoxError('SYNC_TIMEOUT', `${fn}: no answer within ${timeoutMs} ms`, { retryable: true })), timeoutMs);
      const payload = body.length > 0 ? body : undefined;
      req.on('socket', (s) => {
        sock = s;
        sockOut0 = s.bytesWritten;
        sockIn0 = s.bytesRead;
        // Pinned https: nothing is written until the server's key matched a pin.
        const verdict = this.pinnedAgent?.verdict(s);
        if (!verdict) return;
        verdict.then(
          () => {
            if (!settled) req.end(payload);
          },
          (e: unknown) => finish(isBoxError(e) ? e : new BoxError('SYNC_NETWORK', `${fn}: TLS handshake failed`, { retryable: true, cause: e })),
        );
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        // A pin mismatch destroys the socket with its own SYNC_TLS_PIN error.
        if (isBoxError(e)) finish(e);
        else finish(new BoxError('SYNC_NETWORK', `${fn}: ${e.code ?? 'connection failed'}`, { retryable: true, cause: e }));
      });
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxReply) finish(new BoxError('SYNC_BAD_REPLY', `${fn}: reply larger than ${maxReply} bytes`, { retryable: true }));
          else chunks.push(c);
        });
        res.on('error', (e: NodeJS.ErrnoException) => finish(new BoxError('SYNC_NETWORK', `${fn}: reply cut off (${e.code ?? e.message})`, { retryable: true })));
        res.on('aborted', () => finish(new BoxError('SYNC_NETWORK', `${fn}: reply cut off`, { retryable: true })));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          let json: unknown;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            json = undefined;
          }
          const err = classify(fn, status, json);
          if (err) finish(err);
          else if (json === undefined) finish(new BoxError('SYNC_BAD_REPLY', `${fn}: HTTP ${status} reply is not JSON`, { retryable: true }));
          else finish(null, { status, json });
        });
      });
      if (!this.pinnedAgent) req.end(payload);
    });
  }
}

function classify(fn: string, status: number, json: unknown): BoxError | null {
  if (status >= 200 && status < 300) return null;
  const parsed = ErrorReply.safeParse(json);
  const code = parsed.success ? parsed.data.error : undefined;
  const what = `${fn}: HTTP ${status}${code ? ` ${code}` : ''}`;
  if (status >= 500) return new BoxError('SYNC_SERVER_ERROR', what, { retryable: true });
  if (status === 401 && code === 'UNKNOWN_BOX') return new BoxError('SYNC_UNKNOWN_BOX', what);
  if (status === 403 && code === 'BOX_REVOKED') return new BoxError('SYNC_BOX_REVOKED', what);
  if (status === 401) return new BoxError('SYNC_BAD_AUTH', what, { retryable: true });
  if (status === 408 || status === 429) return new BoxError('SYNC_SERVER_ERROR', what, { retryable: true });
  return new BoxError('SYNC_REFUSED', what);
}
