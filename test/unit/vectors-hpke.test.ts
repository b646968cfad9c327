/** RFC 9180 A.2.1 (base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305) on both providers. */
import { describe, expect, it } from 'vitest';
import {
  BASE_PSK_ID_HASH,
  deriveX25519KeyPair,
  hpkeOpen,
  hpkeSeal,
  prepareBaseReceiver,
  setupBaseReceiver,
  setupBaseSender,
} from '../../device/core/crypto/hpke.ts';
import { allProviders, hex, loadVectors, toHexString } from '../support/vectors.ts';

interface HpkeVector {
  mode: number;
  kem_id: number;
  kdf_id: number;
  aead_id: number;
  info: string;
  ikmE: string;
  pkEm: string;
  skEm: string;
  ikmR: string;
  pkRm: string;
  skRm: string;
  enc: string;
  shared_secret: string;
  key_schedule_context: string;
  secret: string;
  key: string;
  base_nonce: string;
  exporter_secret: string;
  encryptions: Array<{ sequence_number: number; aad: string; ct: string; nonce: string; pt: string }>;
  exports: Array<{ exporter_context: string; L: number; exported_value: string }>;
}

const file = loadVectors<{ vectors: HpkeVector[] }>('hpke_x25519_chacha.json');
const baseVectors = file.vectors.filter((v) => v.mode === 0 && v.kem_id === 0x20 && v.kdf_id === 1 && v.aead_id === 3);
const enc = new TextEncoder();

describe.each(allProviders())('HPKE RFC 9180 vectors (%s)', (_name, p) => {
  it('has the base-mode vectors', () => {
    expect(baseVectors.length).toBeGreaterThanOrEqual(1);
  });

  it('psk_id_hash constant is LabeledExtract("", "psk_id_hash", "")', () => {
    const labeled = new Uint8Array([...enc.encode('HPKE-v1HPKE'), 0, 0x20, 0, 1, 0, 3, ...enc.encode('psk_id_hash')]);
    expect(toHexString(p.hmacSha256(new Uint8Array(0), labeled))).toBe(toHexString(BASE_PSK_ID_HASH));
  });

  for (const v of baseVectors) {
    it('DeriveKeyPair gives skEm/pkEm and skRm/pkRm', () => {
      const e = deriveX25519KeyPair(p, hex(v.ikmE));
      const r = deriveX25519KeyPair(p, hex(v.ikmR));
      expect(toHexString(e.secret)).toBe(v.skEm);
      expect(toHexString(e.privateKey.publicKey)).toBe(v.pkEm);
      expect(toHexString(r.secret)).toBe(v.skRm);
      expect(toHexString(r.privateKey.publicKey)).toBe(v.pkRm);
    });

    it('sender and receiver setup give enc, shared_secret, key, base_nonce, exporter_secret', () => {
      const skR = deriveX25519KeyPair(p, hex(v.ikmR)).privateKey;
      const sender = setupBaseSender(p, hex(v.pkRm), hex(v.info), hex(v.ikmE));
      expect(toHexString(sender.enc)).toBe(v.enc);
      const receiver = setupBaseReceiver(p, skR, hex(v.enc), hex(v.info));
      expect(receiver).not.toBeNull();
      for (const ctx of [sender.context, receiver!]) {
        expect(toHexString(ctx.schedule.sharedSecret)).toBe(v.shared_secret);
        expect(toHexString(ctx.schedule.key)).toBe(v.key);
        expect(toHexString(ctx.schedule.baseNonce)).toBe(v.base_nonce);
        expect(toHexString(ctx.schedule.exporterSecret)).toBe(v.exporter_secret);
      }
    });

    it(`every encryption (seq ${v.encryptions.map((x) => x.sequence_number).join(',')}) seals and opens, advancing the sequence`, () => {
      const skR = deriveX25519KeyPair(p, hex(v.ikmR)).privateKey;
      const sender = setupBaseSender(p, hex(v.pkRm), hex(v.info), hex(v.ikmE)).context;
      const receiver = setupBaseReceiver(p, skR, hex(v.enc), hex(v.info))!;
      const bySeq = new Map(v.encryptions.map((x) => [x.sequence_number, x]));
      const last = Math.max(...bySeq.keys());
      let checked = 0;
      for (let seq = 0; seq <= last; seq++) {
        const x = bySeq.get(seq);
        const aad = x ? hex(x.aad) : enc.encode(`filler-${seq}`);
        const pt = x ? hex(x.pt) : enc.encode(`filler message ${seq}`);
        const ct = sender.seal(aad, pt);
        if (x) expect(toHexString(ct)).toBe(x.ct);
        // a failed open must not advance the receiver
        if (x) expect(receiver.open(enc.encode('wrong aad'), ct)).toBeNull();
        expect(toHexString(receiver.open(aad, ct))).toBe(toHexString(pt));
        if (x) checked++;
      }
      expect(checked).toBe(v.encryptions.length);
    });

    it('every export matches from both sides', () => {
      const skR = deriveX25519KeyPair(p, hex(v.ikmR)).privateKey;
      const sender = setupBaseSender(p, hex(v.pkRm), hex(v.info), hex(v.ikmE)).context;
      const receiver = setupBaseReceiver(p, skR, hex(v.enc), hex(v.info))!;
      expect(v.exports.length).toBeGreaterThan(0);
      for (const x of v.exports) {
        expect(toHexString(sender.export(hex(x.exporter_context), x.L))).toBe(x.exported_value);
        expect(toHexString(receiver.export(hex(x.exporter_context), x.L))).toBe(x.exported_value);
      }
    });

    it('one-shot hpkeSeal / hpkeOpen / prepareBaseReceiver reproduce sequence 0', () => {
      const x0 = v.encryptions.find((x) => x.sequence_number === 0)!;
      const skR = deriveX25519KeyPair(p, hex(v.ikmR)).privateKey;
      const sealed = hpkeSeal(p, hex(v.pkRm), hex(v.info), hex(x0.aad), hex(x0.pt), hex(v.ikmE));
      expect(toHexString(sealed.enc)).toBe(v.enc);
      expect(toHexString(sealed.ciphertext)).toBe(x0.ct);
      expect(toHexString(hpkeOpen(p, skR, hex(v.enc), hex(v.info), hex(x0.aad), hex(x0.ct)))).toBe(x0.pt);
      const receiver = prepareBaseReceiver(p, skR, hex(v.info));
      expect(toHexString(receiver.open(hex(v.enc), hex(x0.aad), hex(x0.ct)))).toBe(x0.pt);
      expect(toHexString(receiver.open(hex(v.enc), hex(x0.aad), hex(x0.ct)))).toBe(x0.pt); // reusable
    });

    it('hpkeOpen returns null, never throws, on hostile input', () => {
      const x0 = v.encryptions.find((x) => x.sequence_number === 0)!;
      const skR = deriveX25519KeyPair(p, hex(v.ikmR)).privateKey;
      const info = hex(v.info);
      const aad = hex(x0.aad);
      const ct = hex(x0.ct);
      const encBytes = hex(v.enc);
      const hostileEnc = [new Uint8Array(0), new Uint8Array(1), encBytes.subarray(0, 31), new Uint8Array(33), new Uint8Array(32), new Uint8Array(65536)];
      for (const e of hostileEnc) expect(hpkeOpen(p, skR, e, info, aad, ct)).toBeNull();
      const hostileCt = [new Uint8Array(0), new Uint8Array(15), ct.subarray(0, 16), ct.subarray(0, ct.length - 1), new Uint8Array(65536)];
      for (const c of hostileCt) expect(hpkeOpen(p, skR, encBytes, info, aad, c)).toBeNull();
      for (let bit = 0; bit < ct.length * 8; bit += 7) {
        const flipped = ct.slice();
        flipped[bit >> 3]! ^= 1 << (bit & 7);
        expect(hpkeOpen(p, skR, encBytes, info, aad, flipped)).toBeNull();
      }
      for (let bit = 0; bit < 256; bit += 5) {
        const flipped = encBytes.slice();
        flipped[bit >> 3]! ^= 1 << (bit & 7);
        expect(hpkeOpen(p, skR, flipped, info, aad, ct)).toBeNull();
      }
      expect(hpkeOpen(p, skR, encBytes, enc.encode('other info'), aad, ct)).toBeNull();
      expect(hpkeOpen(p, skR, encBytes, info, new Uint8Array(0), ct)).toBeNull();
      expect(hpkeOpen(p, skR, null as unknown as Uint8Array, info, aad, ct)).toBeNull();
      expect(setupBaseReceiver(p, skR, new Uint8Array(31), info)).toBeNull();
    });

    it('export supports lengths over one hash block', () => {
      const skR = deriveX25519KeyPair(p, hex(v.ikmR)).privateKey;
      const sender = setupBaseSender(p, hex(v.pkRm), hex(v.info), hex(v.ikmE)).context;
      const receiver = setupBaseReceiver(p, skR, hex(v.enc), hex(v.info))!;
      const long = sender.export(enc.encode('ctx'), 100);
      expect(long.length).toBe(100);
      expect(toHexString(receiver.export(enc.encode('ctx'), 100))).toBe(toHexString(long));
      // L is bound into the labeled info, so a shorter export is not a prefix of a longer one
      expect(toHexString(long.subarray(0, 32))).not.toBe(toHexString(sender.export(enc.encode('ctx'), 32)));
    });
  }

  it('seal with a random ephemeral opens, and two seals differ', () => {
    const skR = deriveX25519KeyPair(p, p.randomBytes(32)).privateKey;
    const info = enc.encode('box');
    const a = hpkeSeal(p, skR.publicKey, info, enc.encode('aad'), enc.encode('pay 12.50'));
    const b = hpkeSeal(p, skR.publicKey, info, enc.encode('aad'), enc.encode('pay 12.50'));
    expect(toHexString(a.enc)).not.toBe(toHexString(b.enc));
    expect(new TextDecoder().decode(hpkeOpen(p, skR, a.enc, info, enc.encode('aad'), a.ciphertext)!)).toBe('pay 12.50');
  });

  it('setupBaseSender refuses a low-order or wrong-length pkR with a message naming the function', () => {
    expect(() => setupBaseSender(p, new Uint8Array(32), new Uint8Array(0))).toThrow(/hpke.setupBaseSender/);
    expect(() => setupBaseSender(p, new Uint8Array(31), new Uint8Array(0))).toThrow(/hpke.setupBaseSender: expected pkR of 32 bytes/);
  });
});
