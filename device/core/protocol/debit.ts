/**
 * Debit record (docs/protocol.md section 9), signed by the box's device key (label "qrpay/v1/debit"):
 *
 *   magic "DR" | version 1 | debitId 16 | deviceKeyId 8 | acceptedAt u32 | clockLower u32 | clockUpper u32
 *   | revocationVersion u32 | chargeId str8 (empty when none) | sessionPublicKey bytes8 (32 or empty)
 *   | header 45 | authorization bytes16 | deviceSignature 64
 *
 * The record carries everything the acquirer needs to re-verify the wallet signature with the
 * same rules as the box. debitId is derived from (wallet key, counter), never from signature bytes.
 */
import type { CryptoProvider, Ed25519Signer } from '../crypto/provider.ts';
import { i2osp } from '../encoding/bytes.ts';
import { KEY_ID_LENGTH, LABEL } from './constants.ts';
import { type Authorization, decodeAuthorization } from './authorization.ts';
import { decodeWith, Writer } from './codec.ts';
import { HEADER_LENGTH } from './envelope.ts';
import { labeled, labelPrefix } from './labels.ts';

export interface DebitBody {
  debitId: Uint8Array;
  deviceKeyId: Uint8Array;
  acceptedAt: number;
  clockLower: number;
  clockUpper: number;
  revocationVersion: number;
  chargeId: string;
  sessionPublicKey: Uint8Array;
  header: Uint8Array;
  authorization: Uint8Array;
}

export interface DebitRecord extends DebitBody {
  deviceSignature: Uint8Array;
  bytes: Uint8Array;
  signedBytes: Uint8Array;
  /** Parsed view of `authorization`. */
  auth: Authorization;
}

/** debitId = first 16 bytes of SHA-256("qrpay/v1/debit-id" || 0x00 || walletPublicKey || counter u32). */
export function debitIdOf(p: CryptoProvider, walletPublicKey: Uint8Array, counter: number): Uint8Array {
  const m = new Uint8Array(labelPrefix(LABEL.debitId).length + 36);
  m.set(labelPrefix(LABEL.debitId), 0);
  m.set(walletPublicKey, m.length - 36);
  m.set(i2osp(counter, 4), m.length - 4);
  return p.sha256(m).subarray(0, 16);
}

function encodeBody(d: DebitBody): Uint8Array {
  return new Writer()
    .u8(0x44)
    .u8(0x52)
    .u8(1)
    .bytes(d.debitId, 16)
    .bytes(d.deviceKeyId, KEY_ID_LENGTH)
    .u32(d.acceptedAt)
    .u32(d.clockLower)
    .u32(d.clockUpper)
    .u32(d.revocationVersion)
    .ascii8(d.chargeId)
    .bytes8(d.sessionPublicKey)
    .bytes(d.header, HEADER_LENGTH)
    .bytes16(d.authorization)
    .finish();
}

export function signDebit(d: DebitBody, signer: Ed25519Signer): Uint8Array {
  const body = encodeBody(d);
  return new Writer().bytes(body).bytes(signer.sign(labeled(LABEL.debit, body)), 64).finish();
}

export function decodeDebit(bytes: Uint8Array): DebitRecord | null {
  return decodeWith(bytes, (r) => {
    if (r.u8() !== 0x44 || r.u8() !== 0x52 || r.u8() !== 1) return null;
    const debitId = r.bytes(16);
    const deviceKeyId = r.bytes(KEY_ID_LENGTH);
    const acceptedAt = r.u32();
    const clockLower = r.u32();
    const clockUpper = r.u32();
    const revocationVersion = r.u32();
    const chargeId = r.ascii8();
    const sessionPublicKey = r.bytes8();
    if (sessionPublicKey.length !== 0 && sessionPublicKey.length !== 32) return null;
    const header = r.bytes(HEADER_LENGTH);
    const authorization = r.bytes16();
    const auth = decodeAuthorization(authorization);
    if (!auth) return null;
    const signedLength = r.offset;
    const deviceSignature = r.bytes(64);
    return {
      debitId,
      deviceKeyId,
      acceptedAt,
      clockLower,
      clockUpper,
      revocationVersion,
      chargeId,
      sessionPublicKey,
      header,
      authorization,
      auth,
      deviceSignature,
      bytes,
      signedBytes: bytes.subarray(0, signedLength),
    };
  });
}

export function verifyDebitSignature(p: CryptoProvider, devicePublicKey: Uint8Array, d: DebitRecord): boolean {
  return p.ed25519Verify(devicePublicKey, labeled(LABEL.debit, d.signedBytes), d.deviceSignature);
}
