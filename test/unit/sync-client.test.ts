/**
 * SyncClient against a stub back end on 127.0.0.1 (port 0) that speaks contract v1 and checks the
 * box auth signature on every /v1/box/* request. Each fault of the issue is one scripted reply.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nobleProvider } from '../../device/core/crypto/noble.ts';
import { fromHex, toHex, utf8 } from '../../device/core/encoding/bytes.ts';
import { type BoxError, isBoxError } from '../../device/core/errors.ts';
import { decodeBatch } from '../../device/core/protocol/batch.ts';
import { keyId } from '../../device/core/protocol/labels.ts';
import { openSqliteJournal } from '../../device/journal/sqlite-journal.ts';
import { systemSyncTimers } from '../../device/sync/backoff.ts';
import { SyncClient } from '../../device/sync/client.ts';
import { batchAckMessage } from '../../device/core/protocol/batch-ack.ts';
import { authMessage, revocationsMessage, timeMessage } from '../../device/sync/signed-messages.ts';
import { Uploader } from '../../device/sync/uploader.ts';

const p = nobleProvider;
const device = p.ed25519Signer(new Uint8Array(32).fill(5));
const deviceKeyId = keyId(p, device.publicKey);
const backend = p.ed25519Signer(new Uint8Array(32).fill(6));
const backendKeyId = toHex(keyId(p, backend.publicKey));
const issuer = p.ed25519Signer(new Uint8Array(32).fill(7));
const issuerKeyId = toHex(keyId(p, issuer.publicKey));
const rogue = p.ed25519Signer(new Uint8Array(32).fill(8));

type Fault = 'none' | '500' | 'hang' | 'drop-after-commit' | 'not-json' | 'wrong-shape' | 'bad-sig' | 'unknown-box' | 'revoked';

interface Stub {
  server: Server;
  url: string;
  faults: Fault[];
  /** debitId -> times settled */
  settled: Map<string, number>;
  batches: Map<number, unknown>;
  requests: string[];
  authFailures: number;
}

function startStub(): Promise<Stub> {
  const nonces = new Set<string>();
  const stub: Stub = { server: undefined as unknown as Server, url: '', faults: [], settled: new Map(), batches: new Map(), requests: [], authFailures: 0 };
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
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
    const ok =
      req.headers['x-box-key-id'] === toHex(deviceKeyId) &&
      nonces.delete(nonce) &&
      /^[0-9a-f]{128}$/.test(sig) &&
      p.ed25519Verify(device.publicKey, authMessage(p, req.method ?? '', url, nonce, new Uint8Array(body)), fromHex(sig));
    if (!ok) {
      stub.authFailures++;
      return send(res, 401, { error: 'BAD_AUTH', message: 'bad auth' });
    }
    const fault = stub.faults.shift() ?? 'none';
    if (fault === '500') return send(res, 500, { error: 'INTERNAL', message: 'boom' });
    if (fault === 'hang') return; // never answer
    if (fault === 'not-json') return send(res, 200, '<html>proxy login</html>');
    if (fault === 'wrong-shape') return send(res, 200, { hello: 'world' });
    if (fault === 'unknown-box') return send(res, 401, { error: 'UNKNOWN_BOX', message: 'who?' });
    if (fault === 'revoked') return send(res, 403, { error: 'BOX_REVOKED', message: 'revoked' });
    if (url === '/v1/box/batches') {
      const b = decodeBatch(new Uint8Array(body));
      if (!b) return send(res, 400, { error: 'MALFORMED', message: 'bad batch' });
      let ack = stub.batches.get(b.batchSeq) as { batchSeq: number; results: { debitId: string; status: string }[]; voids: [] } | undefined;
      if (!ack) {
        const results = b.entries.map((e) => {
          const id = utf8.decode(e.bytes);
          const n = stub.settled.get(id) ?? 0;
          stub.settled.set(id, n + 1);
          return { debitId: id, status: n === 0 ? 'settled' : 'duplicate' };
        });
        ack = { batchSeq: b.batchSeq, results, voids: [] };
        stub.batches.set(b.batchSeq, ack);
      }
      if (fault === 'drop-after-commit') return req.socket.destroy();
      const ackSigner = fault === 'bad-sig' ? rogue : backend;
      const ackSig = toHex(ackSigner.sign(batchAckMessage(p, new Uint8Array(body), ack.batchSeq, ack.results, ack.voids)));
      return send(res, 200, { ...ack, keyId: backendKeyId, signature: ackSig });
    }
    if (url.startsWith('/v1/box/time?nonce=')) {
      const boxNonce = fromHex(url.slice('/v1/box/time?nonce='.length));
      const timeMs = Date.UTC(2026, 10, 25, 12);
      const signer = fault === 'bad-sig' ? rogue : backend;
      return send(res, 200, { timeMs, keyId: backendKeyId, signature: toHex(signer.sign(timeMessage(boxNonce, timeMs))) });
    }
    if (url === '/v1/box/revocations') {
      const wallets = ['bb'.repeat(32), 'aa'.repeat(32)];
      const signer = fault === 'bad-sig' ? rogue : issuer;
      const sigHex = toHex(signer.sign(revocationsMessage(p, 3, 1000, wallets)));
      return send(res, 200, { version: 3, issuedAtMs: 1000, wallets, keyId: issuerKeyId, signature: sigHex });
    }
    if (url === '/v1/box/updates') return send(res, 200, { bundle: null, rejections: [{ debitId: 'ff'.repeat(16), code: 'INSUFFICIENT_FUNDS' }] });
    return send(res, 404, { error: 'NOT_FOUND', message: url });
  };
  stub.server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  return new Promise((resolve) => {
    stub.server.listen(0, '127.0.0.1', () => {
      stub.url = `http://127.0.0.1:${(stub.server.address() as AddressInfo).port}`;
      resolve(stub);
    });
  });
}

let stub: Stub;
let client: SyncClient;
const makeClient = (url = stub.url, timeoutMs = 300) =>
  new SyncClient({
    baseUrl: url,
    p,
    device,
    deviceKeyId,
    backendKey: { keyId: backendKeyId, publicKey: backend.publicKey },
    issuers: () => new Map([[issuerKeyId, issuer.publicKey]]),
    timeoutMs,
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

beforeEach(async () => {
  stub = await startStub();
  client = makeClient();
});
afterEach(async () => {
  client.close();
  stub.server.closeAllConnections();
  await new Promise((r) => stub.server.close(r));
});

describe('SyncClient against a stub back end', () => {
  it('signed time: nonce + box auth accepted, signature verified against the pinned key', async () => {
    await expect(client.signedTime()).resolves.toBe(Date.UTC(2026, 10, 25, 12));
    expect(stub.requests).toEqual(['POST /v1/box/nonce', 'GET /v1/box/time']);
    expect(stub.authFailures).toBe(0);
  });

  it('signed time by another key is SYNC_BAD_SIGNATURE', async () => {
    stub.faults = ['bad-sig'];
    expect(await failure(client.signedTime())).toMatchObject({ code: 'SYNC_BAD_SIGNATURE', retryable: true });
  });

  it('revocations verified against the issuer key; a forged list is refused', async () => {
    await expect(client.revocations()).resolves.toEqual({ version: 3, issuedAtMs: 1000, wallets: ['bb'.repeat(32), 'aa'.repeat(32)] });
    stub.faults = ['bad-sig'];
    expect(await failure(client.revocations())).toMatchObject({ code: 'SYNC_BAD_SIGNATURE' });
  });

  it('updates carry late rejections', async () => {
    await expect(client.updates()).resolves.toEqual({ bundle: null, rejections: [{ debitId: 'ff'.repeat(16), code: 'INSUFFICIENT_FUNDS' }] });
  });

  it.each([
    ['500', 'SYNC_SERVER_ERROR', true],
    ['not-json', 'SYNC_BAD_REPLY', true],
    ['wrong-shape', 'SYNC_BAD_REPLY', true],
    ['unknown-box', 'SYNC_UNKNOWN_BOX', false],
    ['revoked', 'SYNC_BOX_REVOKED', false],
  ] as const)('fault %s -> %s (retryable %s)', async (fault, code, retryable) => {
    stub.faults = [fault];
    expect(await failure(client.signedTime())).toMatchObject({ code, retryable });
  });

  it('a hang past the timeout is SYNC_TIMEOUT, and the client works again afterwards', async () => {
    stub.faults = ['hang'];
    expect(await failure(client.revocations())).toMatchObject({ code: 'SYNC_TIMEOUT', retryable: true });
    await expect(client.revocations()).resolves.toMatchObject({ version: 3 });
  });

  it('connection refused is SYNC_NETWORK', async () => {
    const port = (stub.server.address() as AddressInfo).port;
    client.close();
    stub.server.closeAllConnections();
    await new Promise((r) => stub.server.close(r));
    client = makeClient(`http://127.0.0.1:${port}`);
    expect(await failure(client.signedTime())).toMatchObject({ code: 'SYNC_NETWORK', retryable: true });
    stub.server = createServer().listen(0, '127.0.0.1'); // for afterEach
  });

  it('a bad signature on the auth is refused by the back end as retryable SYNC_BAD_AUTH', async () => {
    const other = new SyncClient({
      baseUrl: stub.url,
      p,
      device: rogue,
      deviceKeyId,
      backendKey: { keyId: backendKeyId, publicKey: backend.publicKey },
      issuers: () => new Map(),
    });
    expect(await failure(other.updates())).toMatchObject({ code: 'SYNC_BAD_AUTH', retryable: true });
    other.close();
  });

  it('upload through the uploader survives 500, hang, ack lost and malformed replies: every debit settled exactly once', async () => {
    const journal = openSqliteJournal({ path: ':memory:' });
    for (let i = 0; i < 12; i++) {
      const debitId = i.toString(16).padStart(32, '0');
      journal.commitAccept(
        { debitId, walletKey: 'cc'.repeat(32), counter: i, amount: 5, currency: 'EUR', chargeId: null, acceptedAtMs: 1, cardSerial: '1', record: utf8.encode(debitId), credentialExpiresAtMs: 2 ** 40 },
        { scanKey: `s${i}`, atMs: 1 },
      );
    }
    stub.faults = ['500', 'none', 'hang', 'drop-after-commit', 'not-json', 'none', 'wrong-shape'];
    const u = new Uploader({ journal, sender: client, device, deviceKeyId, maxEntries: 5, maxAttempts: 20, random: () => 0, timers: systemSyncTimers, backoff: { baseMs: 5, maxMs: 20 } });
    await expect(u.run()).resolves.toMatchObject({ outcome: 'done' });
    expect(journal.counts()).toMatchObject({ settled: 12, pending: 0, uploaded: 0 });
    expect([...stub.settled.values()].every((n) => n === 1)).toBe(true);
    expect(stub.settled.size).toBe(12);
    expect([...stub.batches.keys()]).toEqual([1, 2, 3]);
    expect(client.stats.bytesOut).toBeGreaterThan(u.stats.bodyBytes);
    journal.close();
  });
});
