/**
 * Where the box keeps its keys. The file store keeps raw secrets on the data partition; a
 * secure element (ATECC608, TPM) would keep them inside and hand out handles instead.
 *
 * Secrets leave a KeyStore only as `SecretKey`, and only towards the composition root, which
 * wraps them at once in the crypto provider (see `unlockKeys`). `SecretKey` is a tagged union
 * so a hardware store can add `{ kind: 'handle', ... }` without changing the callers' shape.
 *
 * Errors (BoxError codes): KEY_MISSING, KEY_EXISTS, KEY_PREVIOUS_PRESENT, KEY_FILE_MODE,
 * KEY_FILE_CORRUPT, KEY_BAD_NAME, KEY_RNG_FAILED, KEY_IO. Messages name files, modes and
 * lengths, never key bytes.
 */

export interface RawSecretKey {
  readonly kind: 'raw';
  /** 32 bytes: an X25519 secret scalar or an Ed25519 seed. */
  readonly bytes: Uint8Array;
}

/** Today only raw bytes; a secure element adds its own member (e.g. `{ kind: 'handle'; slot: number }`). */
export type SecretKey = RawSecretKey;

export interface IdentitySecrets {
  /** Decrypts payment QRs addressed to the box's current identity card. */
  current: SecretKey;
  /** The identity before the last rotation, kept until `dropPreviousIdentity` (wallets may still hold the old card). */
  previous: SecretKey | null;
}

export interface KeyStore {
  /** Where the keys live, for logs (e.g. "file:/var/lib/qrpay/keys"). */
  readonly description: string;
  /** True when an identity and a device key exist (checked without reading secrets). */
  hasKeys(): boolean;
  /** Creates the identity and the device key. KEY_EXISTS if either exists: never overwrites. */
  generate(): void;
  /** KEY_MISSING when `generate` never ran. */
  loadIdentity(): IdentitySecrets;
  /** The Ed25519 seed that signs debit records. KEY_MISSING when absent. */
  loadDeviceKey(): SecretKey;
  /**
   * current -> previous, new current. KEY_PREVIOUS_PRESENT while an older previous is still
   * kept: drop it explicitly first, so no identity is lost by accident.
   */
  rotateIdentity(): void;
  /** Returns false when there was no previous identity. */
  dropPreviousIdentity(): boolean;
  /** Public material as text (identity card, authority key, issuer keys); undefined when absent. */
  readPublic(name: string): string | undefined;
  writePublic(name: string, text: string): void;
}
