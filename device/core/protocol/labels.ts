import type { CryptoProvider, Ed25519Signer } from '../crypto/provider.ts';
import { concatBytes } from '../encoding/bytes.ts';
import { KEY_ID_LENGTH, LABEL } from './constants.ts';

/**
 * ASCII(label) || 0x00: the domain-separation prefix of every signed or hashed message.
 * A fresh array each call: a shared cached one would let any caller that writes into it change the
 * domain separation of every later signature (and was module-level mutable state).
 */
export function labelPrefix(label: string): Uint8Array {
  const b = new Uint8Array(label.length + 1);
  for (let i = 0; i < label.length; i++) b[i] = label.charCodeAt(i);
  return b;
}

export function labeled(label: string, ...content: Uint8Array[]): Uint8Array {
  return concatBytes(labelPrefix(label), ...content);
}

export function signLabeled(signer: Ed25519Signer, label: string, ...content: Uint8Array[]): Uint8Array {
  return signer.sign(labeled(label, ...content));
}

export function verifyLabeled(
  p: CryptoProvider,
  publicKey: Uint8Array,
  signature: Uint8Array,
  label: string,
  ...content: Uint8Array[]
): boolean {
  return p.ed25519Verify(publicKey, labeled(label, ...content), signature);
}

/** Key id = first 8 bytes of SHA-256("qrpay/v1/key-id" || 0x00 || publicKey). */
export function keyId(p: CryptoProvider, publicKey: Uint8Array): Uint8Array {
  return p.sha256(labeled(LABEL.keyId, publicKey)).subarray(0, KEY_ID_LENGTH);
}
