/**
 * `scanner provision` against an in-process enrolment back end (a FileAuthority behind
 * node:http): online enrolment with a bearer token and a pinned back-end key, offline request +
 * import, refusal to overwrite keys, and rotation that keeps the previous identity.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBackendPin } from '../../device/app/commands/backend-pin.ts';
import { provisionCommand } from '../../device/app/commands/provision-command.ts';
import { parseConfig } from '../../device/app/config.ts';
import { loadProvisioned } from '../../device/app/provision.ts';
import { nobleProvider as p } from '../../device/core/crypto/noble.ts';
import { FileKeyStore } from '../../device/keys/file-keystore.ts';
import { EnrolmentRequestSchema } from '../../backend/lib/enrolment.ts';
import { FileAuthority } from '../../backend/lib/file-authority.ts';

const TOKEN = 'enrol-token-123';
let root: string;
let server: Server;
let url: string;
let authority: FileAuthority;
const seenAuth: (string | undefined)[] = [];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'qrpay-provision-'));
  authority = FileAuthority.init(p, join(root, 'authority'));
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seenAuth.push(req.headers.authorization);
      if (req.url !== '/v1/enrol' || req.method !== 'POST') {
        res.writeHead(404).end();
        return;
      }
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        res.writeHead(401).end('{"error":"bad token"}');
        return;
      }
      const enrolment = EnrolmentRequestSchema.parse(JSON.parse(body));
      const bundle = authority.enrol(enrolment, Math.floor(Date.now() / 1000));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...bundle, backendKey: authority.publicEntries().authorities[0] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(root, { recursive: true, force: true });
});

function setup(name: string) {
  const stateDir = join(root, name);
  const cfg = parseConfig({ stateDir, currency: 'EUR', amount: { mode: 'pos' }, scanner: { kind: 'tcp-sim' }, indicator: { kind: 'console' }, allowVolatileState: true }, 'test');
  let out = '';
  let err = '';
  const io = { out: (t: string) => (out += t), err: (t: string) => (err += t) };
  return { cfg, stateDir, io, output: () => ({ out, err }), store: new FileKeyStore({ stateDir }) };
}

const merchant = { merchantId: 'CAFE-42', name: 'Café 42', currency: 'EUR', lat: 48.1, lon: 11.6, bssids: ['AA:BB:CC:DD:EE:FF'] };

describe('scanner provision', () => {
  it('enrols online: generates keys on the box, sends the bearer token, pins the back-end key and URL', async () => {
    const s = setup('online');
    expect(await provisionCommand(s.cfg, { ...merchant, backend: url, enrolToken: TOKEN }, s.io, { provider: p })).toBe(0);
    expect(seenAuth.at(-1)).toBe(`Bearer ${TOKEN}`);
    expect(s.output().out).toMatch(/provisioned CAFE-42 "Café 42": card \d+/);
    const { identity } = loadProvisioned(s.store, p, Math.floor(Date.now() / 1000));
    expect(identity.merchantId).toBe('CAFE-42');
    expect(identity.ownCard.location).toBeDefined();
    expect(readBackendPin(s.store)).toMatchObject({ url, ...authority.publicEntries().authorities[0] });
    // the sync service reads config.sync: the command prints the snippet to add
    expect(s.output().err).toContain(`"sync": ${JSON.stringify({ backendUrl: url, backendKey: authority.publicEntries().authorities[0] })}`);
    const info = JSON.parse(s.store.readPublic('merchant.json')!) as Record<string, unknown>;
    expect(info).toMatchObject({ merchantId: 'CAFE-42', location: { lat: 48.1, lon: 11.6 }, bssids: ['aa:bb:cc:dd:ee:ff'], backendUrl: url });
    // the token is never written anywhere in the state dir
    expect(JSON.stringify(info)).not.toContain(TOKEN);
  });

  it('refuses a second run without --rotate; --rotate keeps the previous identity for in-flight codes', async () => {
    const s = setup('rotate');
    await provisionCommand(s.cfg, { ...merchant, backend: url, enrolToken: TOKEN }, s.io, { provider: p });
    const before = s.store.loadIdentity().current.bytes;
    const device = s.store.loadDeviceKey().bytes;
    await expect(provisionCommand(s.cfg, { ...merchant, backend: url, enrolToken: TOKEN }, s.io, { provider: p })).rejects.toMatchObject({ code: 'KEY_EXISTS' });
    expect(s.store.loadIdentity().current.bytes).toEqual(before);
    expect(await provisionCommand(s.cfg, { ...merchant, backend: url, enrolToken: TOKEN, rotate: true }, s.io, { provider: p })).toBe(0);
    const ids = s.store.loadIdentity();
    expect(ids.current.bytes).not.toEqual(before);
    expect(ids.previous?.bytes).toEqual(before);
    expect(s.store.loadDeviceKey().bytes).toEqual(device);
    expect(loadProvisioned(s.store, p, Math.floor(Date.now() / 1000)).identity.identityKeys).toHaveLength(2);
    // a second rotation must not silently drop the kept key
    await expect(provisionCommand(s.cfg, { ...merchant, backend: url, enrolToken: TOKEN, rotate: true }, s.io, { provider: p })).rejects.toMatchObject({
      code: 'KEY_PREVIOUS_PRESENT',
    });
  });

  it('a wrong token is refused with the HTTP status, and nothing is imported', async () => {
    const s = setup('badtoken');
    await expect(provisionCommand(s.cfg, { ...merchant, backend: url, enrolToken: 'nope' }, s.io, { provider: p })).rejects.toMatchObject({
      code: 'PROVISION_ENROL_REFUSED',
      message: expect.stringContaining('HTTP 401'),
    });
    expect(s.store.readPublic('enrolment.json')).toBeUndefined();
  });

  it('offline: writes the request, then imports the signed bundle (keys never in the request)', async () => {
    const s = setup('offline');
    const reqFile = join(root, 'req.json');
    expect(await provisionCommand(s.cfg, { ...merchant, backend: url, requestOut: reqFile }, s.io, { provider: p })).toBe(0);
    const req = EnrolmentRequestSchema.parse(JSON.parse(readFileSync(reqFile, 'utf8')));
    expect(Object.keys(req)).not.toContain('identitySecret');
    expect(s.store.readPublic('enrolment.json')).toBeUndefined();
    const bundleFile = join(root, 'bundle.json');
    writeFileSync(bundleFile, JSON.stringify(authority.enrol(req, Math.floor(Date.now() / 1000))));
    expect(await provisionCommand(s.cfg, { importFile: bundleFile }, s.io, { provider: p })).toBe(0);
    expect(loadProvisioned(s.store, p, Math.floor(Date.now() / 1000)).identity.merchantId).toBe('CAFE-42');
    expect(readBackendPin(s.store)?.url).toBe(url);
  });

  it('a bundle for another box is refused', async () => {
    const a = setup('box-a');
    const b = setup('box-b');
    const reqFile = join(root, 'req-a.json');
    await provisionCommand(a.cfg, { ...merchant, requestOut: reqFile }, a.io, { provider: p });
    await provisionCommand(b.cfg, { ...merchant, requestOut: join(root, 'req-b.json') }, b.io, { provider: p });
    const bundleFile = join(root, 'bundle-a.json');
    writeFileSync(bundleFile, JSON.stringify(authority.enrol(EnrolmentRequestSchema.parse(JSON.parse(readFileSync(reqFile, 'utf8'))), Math.floor(Date.now() / 1000))));
    await expect(provisionCommand(b.cfg, { importFile: bundleFile }, b.io, { provider: p })).rejects.toMatchObject({ code: expect.stringMatching(/^PROVISION_/) });
    expect(existsSync(join(b.stateDir, 'public', 'enrolment.json'))).toBe(false);
  });

  it('needs either online or offline enrolment and the merchant fields', async () => {
    const s = setup('usage');
    await expect(provisionCommand(s.cfg, { ...merchant }, s.io, { provider: p })).rejects.toMatchObject({ code: 'PROVISION_USAGE' });
    await expect(provisionCommand(s.cfg, { name: 'x', requestOut: '/tmp/x' }, s.io, { provider: p })).rejects.toMatchObject({ code: 'PROVISION_USAGE' });
  });
});
