/**
 * The composition root's one call to turn stored secrets into crypto-provider keys. Raw bytes
 * go straight into the provider and are not kept; a hardware store's handles would be wrapped
 * here by their own X25519PrivateKey / Ed25519Signer implementations.
 */
import type { CryptoProvider, Ed25519Signer, X25519PrivateKey } from '../core/crypto/provider.ts';
import type { KeyStore, SecretKey } from './types.ts';

export interface BoxKeys {
  identity: X25519PrivateKey;
  /** The identity before the last rotation; null when none is kept. */
  previousIdentity: X25519PrivateKey | null;
  device: Ed25519Signer;
}

function x25519(provider: CryptoProvider, key: SecretKey): X25519PrivateKey {
  switch (key.kind) {
    case 'raw':
      return provider.x25519PrivateKey(key.bytes);
  }
}

function ed25519(provider: CryptoProvider, key: SecretKey): Ed25519Signer {
  switch (key.kind) {
    case 'raw':
      return provider.ed25519Signer(key.bytes);
  }
}

/** Loads every secret of `store` and wraps it in `provider`. Throws the store's BoxError (KEY_MISSING, KEY_FILE_MODE, ...). */
export function unlockKeys(store: KeyStore, provider: CryptoProvider): BoxKeys {
  const ids = store.loadIdentity();
  return {
    identity: x25519(provider, ids.current),
    previousIdentity: ids.previous === null ? null : x25519(provider, ids.previous),
    device: ed25519(provider, store.loadDeviceKey()),
  };
}
