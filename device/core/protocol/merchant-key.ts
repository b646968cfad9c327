/**
 * Merchant key package (docs/protocol.md section 3.3, "Several tills"): the authority wraps the
 * merchant-level X25519 secret to one box's own identity key with HPKE base mode.
 *
 *   enc 32 | ciphertext (32-byte secret + 16-byte tag)
 *   info = "qrpay/v1/merchant-key" || 0x00 || merchantId ASCII
 *   aad  = merchant key id (8)
 */
import type { CryptoProvider, X25519PrivateKey } from '../crypto/provider.ts';
import { hpkeOpen, setupBaseSender } from '../crypto/hpke.ts';
import { concatBytes, equalBytes } from '../encoding/bytes.ts';
import { keyId, labeled } from './labels.ts';

const LABEL_MERCHANT_KEY = 'qrpay/v1/merchant-key';

function info(merchantId: string): Uint8Array {
  return labeled(LABEL_MERCHANT_KEY, Uint8Array.from(merchantId, (c) => c.charCodeAt(0)));
}

export function wrapMerchantKey(
  p: CryptoProvider,
  boxIdentityPublicKey: Uint8Array,
  merchantId: string,
  merchantSecret: Uint8Array,
): Uint8Array {
  const merchantPub = p.x25519PrivateKey(merchantSecret).publicKey;
  const { enc, context } = setupBaseSender(p, boxIdentityPublicKey, info(merchantId));
  return concatBytes(enc, context.seal(keyId(p, merchantPub), merchantSecret));
}

/** Opens a package with the box identity key; null if it is not for this box or not for `expectedKeyId`. */
export function unwrapMerchantKey(
  p: CryptoProvider,
  identity: X25519PrivateKey,
  merchantId: string,
  expectedKeyId: Uint8Array,
  pkg: Uint8Array,
): X25519PrivateKey | null {
  if (pkg.length !== 32 + 32 + 16) return null;
  const secret = hpkeOpen(p, identity, pkg.subarray(0, 32), info(merchantId), expectedKeyId, pkg.subarray(32));
  if (!secret) return null;
  const key = p.x25519PrivateKey(secret);
  secret.fill(0);
  return equalBytes(keyId(p, key.publicKey), expectedKeyId) ? key : null;
}
