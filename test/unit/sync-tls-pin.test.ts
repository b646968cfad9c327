/**
 * TLS public-key pinning of the SyncClient against https stubs on 127.0.0.1 (port 0) whose
 * self-signed certificates are made at test time with the `openssl` binary: one valid now and one
 * that expired on 2000-01-02 (what a box with a 1970 or stale clock would see as out of range).
 * The stub answers the signed-time route like the real back end (nonce, box auth, Ed25519 time).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { nobleProvider } from '../../device/core/crypto/noble.ts';
import { fromHex, toHex } from '../../device/core/encoding/bytes.ts';
import { type BoxError, isBoxError } from '../../device/core/errors.ts';
import { keyId } from '../../device/core/protocol/labels.ts';
import { SyncClient, spkiSha256 } from '../../device/sync/client.ts';
import { SyncConfigSchema } from '../../device/sync/config-schema.ts';
import { authMessage, timeMessage } from '../../device/sync/signed-messages.ts';
import type { Log } from '../../drivers/common/log.ts';

const p = nobleProvider;
const device = p.ed25519Signer(new Uint8Array(32).fill(5));
const deviceKeyId = keyId(p, device.publicKey);
const backend = p.ed25519Signer(new Uint8Array(32).fill(6));
const backendKeyId = toHex(keyId(p, backend.publicKey));
const SIGNED_TIME = Date.UTC(2026, 10, 25, 12);

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const OPENSSL = hasOpenssl();
if (!OPENSSL) console.warn('sync-tls-pin.test.ts: skipped, needs the `openssl` binary (apt-get install openssl) to make test certificates');

interface CertPair {
  key: string;
  cert: string;
  /** The pin as docs/field-guide.md tells a technician to compute it with openssl. */
  opensslPin: string;
}

/** A self-signed certificate for CN=127.0.0.1; `expired` makes it valid 2000-01-01..2000-01-02 only. */
function makeCert(dir: string, name: string, algorithm: 'EC' | 'ED25519', expired: boolean): CertPair {
  const run = (args: string[], input?: string) => execFileSync('openssl', args, { cwd: dir, input, stdio: ['pipe', 'pipe', 'ignore'] });
  const keyFile = `${name}.key`;
  const certFile = `${name}.pem`;
  run(['genpkey', '-algorithm', algorithm, ...(algorithm === 'EC' ? ['-pkeyopt', 'ec_paramgen_curve:P-256'] : []), '-out', keyFile]);
  if (expired) {
    // `openssl ca -selfsign` is the OpenSSL 3.0 way to choose both dates (req -not_before is 3.4+).
    run(['req', '-new', '-key', keyFile, '-subj', '/CN=127.0.0.1', '-out', `${name}.csr`]);
    writeFileSync(join(dir, `${name}.index`), '');
    writeFileSync(join(dir, `${name}.serial`), '01\n');
    const cnf = `[ca]\ndefault_ca = c\n[c]\ndatabase = ${name}.index\nnew_certs_dir = .\nserial = ${name}.serial\ndefault_md = default\npolicy = p\nunique_subject = no\n[p]\ncommonName = supplied\n`;
    writeFileSync(join(dir, `${name}.cnf`), cnf);
    run(['ca', '-batch', '-config', `${name}.cnf`, '-selfsign', '-keyfile', keyFile, '-in', `${name}.csr`, '-startdate', '20000101000000Z', '-enddate', '20000102000000Z', '-notext', '-out', certFile]);
  } else {
    run(['req', '-x509', '-key', keyFile, '-subj', '/CN=127.0.0.1', '-days', '30', '-out', certFile]);
  }
  const pubPem = run(['x509', '-pubkey', '-noout', '-in', certFile]).toString();
  const der = run(['pkey', '-pubin', '-outform', 'der'], pubPem);
  const digest = execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der });
  return { key: readFileSync(join(dir, keyFile), 'utf8'), cert: readFileSync(join(dir, certFile), 'utf8'), opensslPin: digest.toString('base64') };
}

interface Stub {
  server: HttpsServer;
  url: string;
  requests: string[];
}

/** Nonce + box-authenticated signed time, as the real back end answers them. */
function startHttpsStub(pair: CertPair): Promise<Stub> {
  const nonces = new Set<string>();
  const stub: Stub = { server: undefined as unknown as HttpsServer, url: '', requests: [] };
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const url = req.url ?? '';
    stub.requests.push(`${req.method} ${url.split('?')[0]}`);
    if (url === '/v1/box/nonce') {
      const n = toHex(p.randomBytes(16));
      nonces.add(n);
      return send(res, 200, { nonce: n });
    }
    const nonce = String(req.headers['x-box-nonce'] ?? '');
    const sig = String(req.headers['x-box-signature'] ?? '');
    const authed =
      req.headers['x-box-key-id'] === toHex(deviceKeyId) &&
      nonces.delete(nonce) &&
      /^[0-9a-f]{128}$/.test(sig) &&
      p.ed25519Verify(device.publicKey, authMessage(p, req.method ?? '', url, nonce, new Uint8Array(body)), fromHex(sig));
    if (!authed) return send(res, 401, { error: 'BAD_AUTH', message: 'bad auth' });
    if (url.startsWith('/v1/box/time?nonce=')) {
      const boxNonce = fromHex(url.slice('/v1/box/time?nonce='.length));
      return send(res, 200, { timeMs: SIGNED_TIME, keyId: backendKeyId, signature: toHex(backend.sign(timeMessage(boxNonce, SIGNED_TIME))) });
    }
    return send(res, 404, { error: 'NOT_FOUND', message: url });
  };
  stub.server = createHttpsServer({ key: pair.key, cert: pair.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  return new Promise((resolve) => {
    stub.server.listen(0, '127.0.0.1', () => {
      stub.url = `https://127.0.0.1:${(stub.server.address() as AddressInfo).port}`;
      resolve(stub);
    });
  });
}

function captureLog(): Log & { errors: object[] } {
  const errors: object[] = [];
  const log = { errors, debug() {}, info() {}, warn() {}, error: (o: object) => void errors.push(o), child: () => log };
  return log;
}

const makeClient = (url: string, tlsPins?: string[], log?: Log) =>
  new SyncClient({
    baseUrl: url,
    p,
    device,
    deviceKeyId,
    backendKey: { keyId: backendKeyId, publicKey: backend.publicKey },
    issuers: () => new Map(),
    timeoutMs: 5000,
    ...(tlsPins ? { tlsPins } : {}),
    ...(log ? { log } : {}),
  });

async function failure(promise: Promise<unknown>): Promise<BoxError> {
  try {
    await promise;
  } catch (e) {
    if (isBoxError(e)) return e;
    throw new Error(`expected a BoxError, got ${String(e)}`);
  }
  throw new Error('expected a failure, got a value');
}

describe.skipIf(!OPENSSL)('SyncClient TLS public-key pinning (needs openssl)', () => {
  let dir: string;
  let valid: CertPair;
  let expired: CertPair;
  let expiredEd: CertPair;
  const open: { close(): void }[] = [];
  const stubs: Stub[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sync-tls-pin-'));
    valid = makeCert(dir, 'valid', 'EC', false);
    expired = makeCert(dir, 'expired', 'EC', true);
    expiredEd = makeCert(dir, 'expired-ed', 'ED25519', true);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    for (const c of open.splice(0)) c.close();
    for (const s of stubs.splice(0)) {
      s.server.closeAllConnections();
      await new Promise((r) => s.server.close(r));
    }
  });
  const stubFor = async (pair: CertPair) => {
    const s = await startHttpsStub(pair);
    stubs.push(s);
    return s;
  };
  const client = (url: string, pins?: string[], log?: Log) => {
    const c = makeClient(url, pins, log);
    open.push(c);
    return c;
  };

  it('spkiSha256 of the certificate equals the openssl pipeline of docs/field-guide.md', () => {
    expect(spkiSha256(valid.cert)).toBe(valid.opensslPin);
    expect(spkiSha256(expiredEd.cert)).toBe(expiredEd.opensslPin);
    expect(valid.opensslPin).not.toBe(expired.opensslPin);
  });

  it.each([
    ['EC P-256', () => expired],
    ['Ed25519', () => expiredEd],
  ])('the right pin connects although the %s certificate expired in 2000 (two requests on one kept-alive socket)', async (_name, pair) => {
    const stub = await stubFor(pair());
    const c = client(stub.url, [pair().opensslPin]);
    await expect(c.signedTime()).resolves.toBe(SIGNED_TIME);
    await expect(c.signedTime()).resolves.toBe(SIGNED_TIME);
    expect(stub.requests).toEqual(['POST /v1/box/nonce', 'GET /v1/box/time', 'POST /v1/box/nonce', 'GET /v1/box/time']);
  });

  it('a pre-pinned next key next to the current one still connects (key rotation)', async () => {
    const stub = await stubFor(valid);
    const c = client(stub.url, [expired.opensslPin, valid.opensslPin]);
    await expect(c.signedTime()).resolves.toBe(SIGNED_TIME);
  });

  it('a wrong pin fails with SYNC_TLS_PIN (not retryable, logged) and no request reaches the server', async () => {
    const stub = await stubFor(valid);
    const log = captureLog();
    const c = client(stub.url, [expired.opensslPin], log);
    const e = await failure(c.signedTime());
    expect(e).toMatchObject({ code: 'SYNC_TLS_PIN', retryable: false });
    expect(e.message).toContain(valid.opensslPin);
    expect(stub.requests).toEqual([]);
    expect(log.errors).toEqual([expect.objectContaining({ event: 'sync.tls-pin-mismatch', got: valid.opensslPin, pins: 1 })]);
  });

  it('a wrong pin writes no byte of the request (headers or batch body) into the TLS connection', async () => {
    const received: Buffer[] = [];
    let closed!: Promise<void>;
    const tls: TlsServer = createTlsServer({ key: valid.key, cert: valid.cert }, (s) =>
      s.on('data', (d: Buffer) => {
        received.push(d);
        s.end('HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}');
      }),
    );
    tls.on('tlsClientError', () => undefined);
    tls.on('connection', (raw: Socket) => {
      closed = new Promise((r) => raw.once('close', () => r()));
    });
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    try {
      const url = `https://127.0.0.1:${(tls.address() as AddressInfo).port}`;
      const c = client(url, [expired.opensslPin]);
      expect(await failure(c.uploadBatch(1, new Uint8Array(512).fill(0x42)))).toMatchObject({ code: 'SYNC_TLS_PIN' });
      await closed;
      expect(Buffer.concat(received).length).toBe(0);
      // Control: with the right pin the same observer does see the request (the nonce POST).
      const right = client(url, [valid.opensslPin]);
      expect(await failure(right.uploadBatch(1, new Uint8Array(512).fill(0x42)))).toMatchObject({ code: 'SYNC_SERVER_ERROR' });
      expect(Buffer.concat(received).toString('latin1')).toContain('POST /v1/box/nonce');
    } finally {
      await new Promise((r) => tls.close(r));
    }
  });

  it.each([
    ['self-signed', () => valid],
    ['expired', () => expired],
  ])('without pins a %s certificate fails normal verification (SYNC_NETWORK)', async (_name, pair) => {
    const stub = await stubFor(pair());
    const e = await failure(client(stub.url).signedTime());
    expect(e).toMatchObject({ code: 'SYNC_NETWORK', retryable: true });
    expect(e.message).toMatch(/SELF_SIGNED|CERT_HAS_EXPIRED/);
    expect(stub.requests).toEqual([]);
  });

  it('a malformed pin is a config error, in the schema and in the client', () => {
    const base = { backendUrl: 'https://a.example', backendKey: { keyId: backendKeyId, publicKey: toHex(backend.publicKey) } };
    expect(SyncConfigSchema.safeParse({ ...base, tls: { spkiSha256: [valid.opensslPin] } }).success).toBe(true);
    expect(SyncConfigSchema.safeParse({ ...base, tls: { spkiSha256: ['ab'.repeat(32)] } }).success).toBe(false);
    expect(SyncConfigSchema.safeParse({ ...base, tls: { spkiSha256: [] } }).success).toBe(false);
    expect(() => makeClient('https://a.example', ['not-a-pin'])).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});
