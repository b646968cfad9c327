/**
 * Void record and upload batch (docs/protocol.md section 10), both signed by the box's device key.
 *
 *   void   = magic "VD" | version 1 | debitId 16 | voidedAt u32 | deviceSignature 64
 *            signed = "qrpay/v1/void" || 0x00 || (everything before deviceSignature)
 *   batch  = magic "DB" | version 1 | deviceKeyId 8 | batchSeq u32 | count u16
 *            | count × (entryType u8 | entry bytes16) | deviceSignature 64
 *            entryType 1 = debit record, 2 = void record
 *            signed = "qrpay/v1/batch" || 0x00 || (everything before deviceSignature)
 *
 * The acquirer answers each entry on its own; a batch resent after a lost acknowledgement is
 * answered again from its stored results (idempotent), keyed on (deviceKeyId, batchSeq), and
 * each debit is deduplicated on its debitId = f(wallet key, counter).
 */
import type { CryptoProvider, Ed25519Signer } from '../crypto/provider.ts';
import { KEY_ID_LENGTH, LABEL } from './constants.ts';
import { decodeWith, Writer } from './codec.ts';
import { labeled } from './labels.ts';

export interface VoidRecord {
  debitId: Uint8Array;
  voidedAt: number;
  deviceSignature: Uint8Array;
  signedBytes: Uint8Array;
  bytes: Uint8Array;
}

export function signVoid(debitId: Uint8Array, voidedAtSec: number, device: Ed25519Signer): Uint8Array {
  const body = new Writer().u8(0x56).u8(0x44).u8(1).bytes(debitId, 16).u32(voidedAtSec).finish();
  return new Writer().bytes(body).bytes(device.sign(labeled(LABEL.void, body)), 64).finish();
}

export function decodeVoid(bytes: Uint8Array): VoidRecord | null {
  return decodeWith(bytes, (r) => {
    if (r.u8() !== 0x56 || r.u8() !== 0x44 || r.u8() !== 1) return null;
    const debitId = r.bytes(16);
    const voidedAt = r.u32();
    const signedBytes = bytes.subarray(0, r.offset);
    return { debitId, voidedAt, deviceSignature: r.bytes(64), signedBytes, bytes };
  });
}

export function verifyVoidSignature(p: CryptoProvider, devicePublicKey: Uint8Array, v: VoidRecord): boolean {
  return p.ed25519Verify(devicePublicKey, labeled(LABEL.void, v.signedBytes), v.deviceSignature);
}

export const ENTRY = { debit: 1, void: 2 } as const;
export type EntryType = (typeof ENTRY)[keyof typeof ENTRY];

export interface BatchEntry {
  type: EntryType;
  bytes: Uint8Array;
}

export interface Batch {
  deviceKeyId: Uint8Array;
  batchSeq: number;
  entries: BatchEntry[];
  deviceSignature: Uint8Array;
  signedBytes: Uint8Array;
}

export const MAX_BATCH_ENTRIES = 1000;

export function signBatch(deviceKeyId: Uint8Array, batchSeq: number, entries: BatchEntry[], device: Ed25519Signer): Uint8Array {
  if (entries.length > MAX_BATCH_ENTRIES) throw new RangeError(`signBatch: at most ${MAX_BATCH_ENTRIES} entries, got ${entries.length}`);
  const w = new Writer().u8(0x44).u8(0x42).u8(1).bytes(deviceKeyId, KEY_ID_LENGTH).u32(batchSeq).u16(entries.length);
  for (const e of entries) w.u8(e.type).bytes16(e.bytes);
  const body = w.finish();
  return new Writer().bytes(body).bytes(device.sign(labeled(LABEL.batch, body)), 64).finish();
}

/** Structure only; verify the signature with the box's enrolled device key. Never throws. */
export function decodeBatch(bytes: Uint8Array): Batch | null {
  if (!(bytes instanceof Uint8Array)) return null;
  return decodeWith(bytes, (r) => {
    if (r.u8() !== 0x44 || r.u8() !== 0x42 || r.u8() !== 1) return null;
    const deviceKeyId = r.bytes(KEY_ID_LENGTH);
    const batchSeq = r.u32();
    const count = r.u16();
    if (count > MAX_BATCH_ENTRIES) return null;
    const entries: BatchEntry[] = [];
    for (let i = 0; i < count; i++) {
      const type = r.u8();
      if (type !== ENTRY.debit && type !== ENTRY.void) return null;
      entries.push({ type, bytes: r.bytes16() });
    }
    const signedBytes = bytes.subarray(0, r.offset);
    return { deviceKeyId, batchSeq, entries, deviceSignature: r.bytes(64), signedBytes };
  });
}

export function verifyBatchSignature(p: CryptoProvider, devicePublicKey: Uint8Array, b: Batch): boolean {
  return p.ed25519Verify(devicePublicKey, labeled(LABEL.batch, b.signedBytes), b.deviceSignature);
}
