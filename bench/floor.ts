/**
 * The crypto floor of one scan: what a hand-written node:crypto path costs with no abstraction,
 * against the same work through our HPKE + CryptoProvider layer (both providers).
 *
 * One scan = one HPKE base open (RFC 9180, X25519/HKDF-SHA256/ChaCha20-Poly1305) + two Ed25519
 * verifies (the wallet's key, new on every scan; the issuer's key, the same on every scan).
 * Every iteration uses a different enc and a different wallet key (pools larger than the
 * provider's key cache), as real scans do.
 *
 *   npx tsx bench/floor.ts [iterations]
 */
import {
  createDecipheriv,
  createHmac,
  createPublicKey,
  diffieHellman,
  type KeyObject,
  createPrivateKey,
  verify,
} from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { deriveX25519KeyPair, hpkeOpen, hpkeSeal, prepareBaseReceiver } from '../device/core/crypto/hpke.ts';
import { nobleProvider } from '../device/core/crypto/noble.ts';
import type { CryptoProvider } from '../device/core/crypto/provider.ts';
import { createNodeProvider } from '../device/crypto/node-provider.ts';

export interface ScanTiming {
  medianUs: number;
  p99Us: number;
  perSecond: number;
}

interface ScanFixture {
  boxSecret: Uint8Array;
  boxPublic: Uint8Array;
  info: Uint8Array;
  aad: Uint8Array;
  issuerPublic: Uint8Array;
  scans: Array<{
    enc: Uint8Array;
    ciphertext: Uint8Array;
    walletPublic: Uint8Array;
    walletMessage: Uint8Array;
    walletSignature: Uint8Array;
    issuerMessage: Uint8Array;
    issuerSignature: Uint8Array;
  }>;
}

const te = new TextEncoder();
const POOL = 200; // > the node provider's 64-entry verify-key cache, so wallet keys always miss

/** Deterministic fixture built with the node provider (setup cost is not measured). */
export function buildScanFixture(pool = POOL): ScanFixture {
  const p = createNodeProvider();
  const box = deriveX25519KeyPair(p, te.encode('bench box key ikm, 32 bytes long!'));
  const issuer = p.ed25519Signer(p.sha256(te.encode('bench issuer')));
  const info = te.encode('qrpay/v1 merchant 4711');
  const aad = te.encode('qrpay/v1');
  const scans = [];
  for (let i = 0; i < pool; i++) {
    const wallet = p.ed25519Signer(p.sha256(te.encode(`bench wallet ${i}`)));
    const issuerMessage = te.encode(`credential ${i}: wallet key ${Buffer.from(wallet.publicKey).toString('hex')} valid 2025..2026`);
    const walletMessage = te.encode(`payment ${i}: 12.50 EUR to merchant 4711 at 2025-01-01T12:00:00Z nonce ${i}`);
    const plaintext = new Uint8Array(180).fill(i & 0xff);
    const { enc, ciphertext } = hpkeSeal(p, box.privateKey.publicKey, info, aad, plaintext);
    scans.push({
      enc,
      ciphertext,
      walletPublic: wallet.publicKey,
      walletMessage,
      walletSignature: wallet.sign(walletMessage),
      issuerMessage,
      issuerSignature: issuer.sign(issuerMessage),
    });
  }
  return { boxSecret: box.secret, boxPublic: box.privateKey.publicKey, info, aad, issuerPublic: issuer.publicKey, scans };
}

function time(iterations: number, warmup: number, scan: (i: number) => boolean): ScanTiming {
  for (let i = 0; i < warmup; i++) if (!scan(i)) throw new Error('bench.time: a warm-up scan failed');
  const samples = new Float64Array(iterations);
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    const ok = scan(i);
    samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
    if (!ok) throw new Error(`bench.time: scan ${i} failed`);
  }
  const totalUs = Number(process.hrtime.bigint() - start) / 1000;
  samples.sort();
  const at = (q: number) => samples[Math.min(iterations - 1, Math.floor(q * iterations))]!;
  return { medianUs: round(at(0.5)), p99Us: round(at(0.99)), perSecond: Math.round((iterations * 1e6) / totalUs) };
}

const round = (x: number) => Math.round(x * 10) / 10;

const ascii = (s: string) => Buffer.from(s, 'latin1');
const SUITE_KEM = Buffer.from([0x4b, 0x45, 0x4d, 0x00, 0x20]); // "KEM" 0x0020
const SUITE_HPKE = Buffer.from([0x48, 0x50, 0x4b, 0x45, 0x00, 0x20, 0x00, 0x01, 0x00, 0x03]); // "HPKE" 0020 0001 0003
const V1 = ascii('HPKE-v1');

/** The hand-written floor: node:crypto calls only, every constant precomputed, no copies it can avoid. */
function createFloorScanner(f: ScanFixture, withVerifies = true): (i: number) => boolean {
  const boxKey: KeyObject = createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), f.boxSecret]),
    format: 'der',
    type: 'pkcs8',
  });
  const issuerKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(f.issuerPublic).toString('base64url') }, format: 'jwk' });
  const empty = Buffer.alloc(0);
  const eaePrkLabel = Buffer.concat([V1, SUITE_KEM, ascii('eae_prk')]);
  const sharedSecretInfo = Buffer.concat([Buffer.from([0, 32]), V1, SUITE_KEM, ascii('shared_secret')]);
  const boxPublic = Buffer.from(f.boxPublic);
  const one = Buffer.from([1]);
  const infoHash = createHmac('sha256', empty).update(Buffer.concat([V1, SUITE_HPKE, ascii('info_hash'), f.info])).digest();
  const pskIdHash = createHmac('sha256', empty).update(Buffer.concat([V1, SUITE_HPKE, ascii('psk_id_hash')])).digest();
  const ctx = Buffer.concat([Buffer.from([0]), pskIdHash, infoHash]);
  const secretLabel = Buffer.concat([V1, SUITE_HPKE, ascii('secret')]);
  const keyInfo = Buffer.concat([Buffer.from([0, 32]), V1, SUITE_HPKE, ascii('key'), ctx, one]);
  const nonceInfo = Buffer.concat([Buffer.from([0, 12]), V1, SUITE_HPKE, ascii('base_nonce'), ctx, one]);
  const aad = Buffer.from(f.aad);
  const scans = f.scans.map((s) => ({
    enc: Buffer.from(s.enc),
    ct: Buffer.from(s.ciphertext),
    wallet: Buffer.from(s.walletPublic).toString('base64url'),
    walletMessage: s.walletMessage,
    walletSignature: s.walletSignature,
    issuerMessage: s.issuerMessage,
    issuerSignature: s.issuerSignature,
  }));
  return (i) => {
    const s = scans[i % scans.length]!;
    const pkE = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: s.enc.toString('base64url') }, format: 'jwk' });
    const dh = diffieHellman({ privateKey: boxKey, publicKey: pkE });
    const eaePrk = createHmac('sha256', empty).update(eaePrkLabel).update(dh).digest();
    const shared = createHmac('sha256', eaePrk).update(sharedSecretInfo).update(s.enc).update(boxPublic).update(one).digest();
    const secret = createHmac('sha256', shared).update(secretLabel).digest();
    const key = createHmac('sha256', secret).update(keyInfo).digest();
    const nonce = createHmac('sha256', secret).update(nonceInfo).digest().subarray(0, 12);
    const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    d.setAAD(aad, { plaintextLength: s.ct.length - 16 });
    d.setAuthTag(s.ct.subarray(s.ct.length - 16));
    d.update(s.ct.subarray(0, s.ct.length - 16));
    d.final();
    if (!withVerifies) return true;
    const walletKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: s.wallet }, format: 'jwk' });
    return verify(null, s.walletMessage, walletKey, s.walletSignature) && verify(null, s.issuerMessage, issuerKey, s.issuerSignature);
  };
}

/** The same scan through our layer: `prepared` uses prepareBaseReceiver (info fixed per box), otherwise one-shot hpkeOpen. */
function createProviderScanner(p: CryptoProvider, f: ScanFixture, prepared: boolean, withVerifies = true): (i: number) => boolean {
  const skR = p.x25519PrivateKey(f.boxSecret);
  const receiver = prepareBaseReceiver(p, skR, f.info);
  return (i) => {
    const s = f.scans[i % f.scans.length]!;
    const pt = prepared ? receiver.open(s.enc, f.aad, s.ciphertext) : hpkeOpen(p, skR, s.enc, f.info, f.aad, s.ciphertext);
    if (!withVerifies) return pt !== null;
    return (
      pt !== null &&
      p.ed25519Verify(s.walletPublic, s.walletMessage, s.walletSignature) &&
      p.ed25519Verify(f.issuerPublic, s.issuerMessage, s.issuerSignature)
    );
  };
}

/** The raw node:crypto floor of one scan. */
export function measureCryptoFloor(iterations: number, fixture: ScanFixture = buildScanFixture()): ScanTiming {
  return time(iterations, Math.min(500, iterations), createFloorScanner(fixture));
}

/** One scan through hpkeOpen (or prepareBaseReceiver) + provider.ed25519Verify. */
export function measureProviderScan(p: CryptoProvider, iterations: number, prepared = true, fixture: ScanFixture = buildScanFixture()): ScanTiming {
  return time(iterations, Math.min(500, iterations), createProviderScanner(p, fixture, prepared));
}

/** HPKE open alone: the raw node:crypto floor against hpkeOpen / prepareBaseReceiver on a provider (null = raw floor). */
export function measureHpkeOpenOnly(p: CryptoProvider | null, iterations: number, prepared = true, fixture: ScanFixture = buildScanFixture()): ScanTiming {
  const scan = p === null ? createFloorScanner(fixture, false) : createProviderScanner(p, fixture, prepared, false);
  return time(iterations, Math.min(500, iterations), scan);
}

function main(): void {
  const iterations = Number(process.argv[2] ?? 5000);
  const fixture = buildScanFixture();
  const floor = measureCryptoFloor(iterations, fixture);
  const rows: Array<[string, ScanTiming]> = [
    ['floor (raw node:crypto)', floor],
    ['node provider, prepareBaseReceiver', measureProviderScan(createNodeProvider(), iterations, true, fixture)],
    ['node provider, hpkeOpen one-shot', measureProviderScan(createNodeProvider(), iterations, false, fixture)],
    ['noble provider, prepareBaseReceiver', measureProviderScan(nobleProvider, Math.max(50, Math.floor(iterations / 20)), true, fixture)],
  ];
  console.log(`one scan = HPKE base open + 2 Ed25519 verifies; ${iterations} iterations; node ${process.version} ${process.arch}`);
  for (const [name, t] of rows) {
    const ratio = (t.medianUs / floor.medianUs).toFixed(2);
    console.log(`${name.padEnd(38)} median ${String(t.medianUs).padStart(7)} us  p99 ${String(t.p99Us).padStart(7)} us  ${String(t.perSecond).padStart(6)}/s  x${ratio} floor`);
  }
  const openFloor = measureHpkeOpenOnly(null, iterations, true, fixture);
  const openRows: Array<[string, ScanTiming]> = [
    ['HPKE open only: floor', openFloor],
    ['HPKE open only: node prepared', measureHpkeOpenOnly(createNodeProvider(), iterations, true, fixture)],
    ['HPKE open only: node hpkeOpen', measureHpkeOpenOnly(createNodeProvider(), iterations, false, fixture)],
  ];
  for (const [name, t] of openRows) {
    const ratio = (t.medianUs / openFloor.medianUs).toFixed(2);
    console.log(`${name.padEnd(38)} median ${String(t.medianUs).padStart(7)} us  p99 ${String(t.p99Us).padStart(7)} us  ${String(t.perSecond).padStart(6)}/s  x${ratio} open floor`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
