/**
 * HTTP front of the reference back end (node:http, no framework). Every handler runs inside one
 * wrapper: a body-size limit, JSON/binary parsing that answers 400 with a code, and a catch-all
 * that answers {error, message} and never a stack trace. With `tls` it serves https.
 */
import { createHash, timingSafeEqual, X509Certificate } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Log } from '../../drivers/common/log.ts';
import { silentLog } from '../../drivers/common/log.ts';
import { isBoxError } from '../../device/core/errors.ts';
import { ApiError, statusOf } from '../lib/api-error.ts';
import type { Backend } from '../lib/backend.ts';
import { type Route, routes } from './routes.ts';

export const MAX_JSON_BODY = 64 * 1024;
export const MAX_BATCH_BODY = 2 * 1024 * 1024;

export interface ServerOptions {
  adminToken: string;
  enrolToken: string;
  /** PEM certificate (chain) and private key: serve https instead of http. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  log?: Log;
}

/**
 * The TLS pin a box puts in `sync.tls.spkiSha256`: base64 SHA-256 of the certificate's DER
 * SubjectPublicKeyInfo (the first certificate of a PEM chain, i.e. the server's own).
 */
export function tlsSpkiPin(certPem: string | Buffer): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

export interface RequestContext {
  method: string;
  /** Path and query exactly as sent (the box signs it). */
  pathWithQuery: string;
  url: URL;
  params: string[];
  headers: IncomingMessage['headers'];
  body: Uint8Array;
  json(): unknown;
}

function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) tooLarge = true;
      else chunks.push(c);
    });
    req.on('end', () => (tooLarge ? reject(new ApiError(413, 'BODY_TOO_LARGE', `request body over ${limit} bytes`)) : resolve(new Uint8Array(Buffer.concat(chunks)))));
    req.on('error', (e) => reject(new ApiError(400, 'BAD_BODY', `request body: ${e.message}`)));
  });
}

function send(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function tokenMatches(header: string | undefined, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const a = createHash('sha256').update(header.slice(7)).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

export function createBackendServer(backend: Backend, opts: ServerOptions): Server {
  const log = opts.log ?? silentLog;
  const table = routes(backend);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    const pathWithQuery = req.url ?? '/';
    let url: URL;
    try {
      url = new URL(pathWithQuery, 'http://backend');
    } catch {
      throw new ApiError(400, 'BAD_URL', 'request: malformed URL');
    }
    let route: Route | undefined;
    let params: string[] = [];
    let pathKnown = false;
    for (const r of table) {
      const m = r.path.exec(url.pathname);
      if (!m) continue;
      pathKnown = true;
      if (r.method === method) {
        route = r;
        params = m.slice(1).map((s) => decodeURIComponent(s));
        break;
      }
    }
    if (!route) throw new ApiError(pathKnown ? 405 : 404, pathKnown ? 'METHOD_NOT_ALLOWED' : 'NOT_FOUND', `no route ${method} ${url.pathname}`);
    if (route.auth === 'admin' && !tokenMatches(req.headers.authorization, opts.adminToken)) throw new ApiError(401, 'BAD_TOKEN', 'admin token required');
    if (route.auth === 'enrol' && !tokenMatches(req.headers.authorization, opts.enrolToken)) throw new ApiError(401, 'BAD_TOKEN', 'enrolment token required');
    const body = await readBody(req, route.binary ? MAX_BATCH_BODY : MAX_JSON_BODY);
    if (route.binary && body.length > 0 && !String(req.headers['content-type'] ?? '').startsWith('application/octet-stream')) {
      throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'expected application/octet-stream');
    }
    const ctx: RequestContext = {
      method,
      pathWithQuery,
      url,
      params,
      headers: req.headers,
      body,
      json() {
        try {
          return JSON.parse(Buffer.from(body).toString('utf8'));
        } catch {
          throw new ApiError(400, 'MALFORMED_JSON', 'request body is not JSON');
        }
      },
    };
    const box =
      route.auth === 'box'
        ? backend.auth.authenticate(
            method,
            pathWithQuery,
            {
              keyId: header(req, 'x-box-key-id'),
              nonce: header(req, 'x-box-nonce'),
              signature: header(req, 'x-box-signature'),
            },
            body,
          )
        : undefined;
    const [status, value] = route.handler(ctx, box);
    send(res, status, value);
  };

  const listener: RequestListener = (req, res) => {
    handle(req, res).catch((e: unknown) => {
      let status = 500;
      let code = 'INTERNAL';
      let message = 'internal error';
      if (e instanceof ApiError) {
        status = e.status;
        code = e.code;
        message = e.message;
      } else if (isBoxError(e)) {
        status = statusOf(e.code);
        code = e.code;
        message = status === 500 ? 'internal error' : e.message;
      }
      if (status >= 500) log.error({ err: e instanceof Error ? e.message : String(e), url: req.url }, 'backend: request failed');
      else log.info({ code, status, url: req.url?.split('?')[0] }, 'backend: request refused');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (code === 'BODY_TOO_LARGE') res.setHeader('connection', 'close');
      send(res, status, { error: code, message });
    });
  };
  return opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, listener) : createServer(listener);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
