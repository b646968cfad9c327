/**
 * The void record: the box's signed statement that a debit it accepted is cancelled before upload.
 *
 *   debitId 16 | voidedAt u32 (seconds) | deviceSignature 64          (84 bytes)
 *   signed = "qrpay/v1/void" || 0x00 || debitId 16 || voidedAt u32
 *
 * It is stored next to the debit record and uploaded with it; the acquirer verifies it with the
 * device key named by the debit record's deviceKeyId.
 */
import type { CryptoProvider, Ed25519Signer } from '../../core/crypto/provider.ts';
import { concatBytes, fromHex, i2osp } from '../../core/encoding/bytes.ts';
import { LABEL } from '../../core/protocol/constants.ts';
import { labeled } from '../../core/protocol/labels.ts';

export const VOID_RECORD_LENGTH = 16 + 4 + 64;

export function signVoidRecord(device: Ed25519Signer, debitIdHex: string, voidedAtSec: number): Uint8Array {
  const debitId = fromHex(debitIdHex);
  if (debitId.length !== 16) throw new RangeError(`signVoidRecord: debitId must be 16 bytes, got ${debitId.length}`);
  if (!Number.isInteger(voidedAtSec) || voidedAtSec < 0 || voidedAtSec > 0xffffffff) {
    throw new RangeError(`signVoidRecord: voidedAtSec must be a u32, got ${voidedAtSec}`);
  }
  const content = concatBytes(debitId, i2osp(voidedAtSec, 4));
  return concatBytes(content, device.sign(labeled(LABEL.void, content)));
}

export interface VoidRecord {
  debitId: Uint8Array;
  voidedAtSec: number;
  deviceSignature: Uint8Array;
}

export function decodeVoidRecord(bytes: Uint8Array): VoidRecord | null {
  if (bytes.length !== VOID_RECORD_LENGTH) return null;
  const t = bytes.subarray(16, 20);
  return {
    debitId: bytes.slice(0, 16),
    voidedAtSec: ((t[0]! << 24) >>> 0) + (t[1]! << 16) + (t[2]! << 8) + t[3]!,
    deviceSignature: bytes.slice(20),
  };
}

export function verifyVoidRecord(p: CryptoProvider, devicePublicKey: Uint8Array, bytes: Uint8Array): boolean {
  if (bytes.length !== VOID_RECORD_LENGTH) return false;
  return p.ed25519Verify(devicePublicKey, labeled(LABEL.void, bytes.subarray(0, 20)), bytes.subarray(20));
}
