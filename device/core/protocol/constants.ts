/**
 * Protocol v1 constants. docs/protocol.md is the normative text; every value here is quoted there.
 */

export const PROTOCOL_VERSION = 1;

/** Envelope text prefix: QR alphanumeric characters only. */
export const ENVELOPE_PREFIX = 'QP:';
/** Identity card text prefix. */
export const CARD_PREFIX = 'QC:';

/** Suite 0x01 = HPKE base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305. */
export const SUITE_X25519_CHACHA = 1;

/**
 * Domain-separation labels. A signature is always Ed25519(key, ASCII(label) || 0x00 || content).
 * Each key signs only with the labels listed for it in docs/protocol.md.
 */
export const LABEL = {
  card: 'qrpay/v1/card',
  credential: 'qrpay/v1/credential',
  pay: 'qrpay/v1/pay',
  nfcAnswer: 'qrpay/v1/nfc-answer',
  debit: 'qrpay/v1/debit',
  debitId: 'qrpay/v1/debit-id',
  batch: 'qrpay/v1/batch',
  batchAck: 'qrpay/v1/batch-ack',
  void: 'qrpay/v1/void',
  keyId: 'qrpay/v1/key-id',
  envelopeInfo: 'qrpay/v1/envelope',
  revocations: 'qrpay/v1/revocations',
  roster: 'qrpay/v1/roster',
  time: 'qrpay/v1/time',
  auth: 'qrpay/v1/box-auth',
  keyRollover: 'qrpay/v1/key-rollover',
  directory: 'qrpay/v1/directory',
} as const;

/** Payment flows carried in the authorization. */
export const FLOW = {
  /** Card obtained by location lookup, directory snapshot, sticker or printed code. */
  static: 1,
  /** Card obtained by an NFC tap; paid to the session key with the box's challenge. */
  nfc: 2,
} as const;
export type Flow = (typeof FLOW)[keyof typeof FLOW];

/** Payment methods in the wallet credential. */
export const METHOD = {
  account: 1,
  cardToken: 2,
  prepaid: 3,
} as const;

export const KEY_ID_LENGTH = 8;
export const ACCOUNT_TOKEN_LENGTH = 16;
export const CHALLENGE_LENGTH = 16;
export const PHONE_NONCE_LENGTH = 16;
export const MAX_CHARGE_ID_LENGTH = 32;
export const MAX_MERCHANT_ID_LENGTH = 32;
export const MAX_DISPLAY_NAME_BYTES = 64;
/** Longest envelope text a box reads; anything longer is MALFORMED before any crypto. */
export const MAX_ENVELOPE_TEXT = 1200;
