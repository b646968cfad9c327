/** Stable decline reason codes. They go into the journal, the log, the POS link and the indicator. */
export const DECLINE = {
  MALFORMED: 'MALFORMED',
  UNSUPPORTED_VERSION: 'UNSUPPORTED_VERSION',
  WRONG_MERCHANT: 'WRONG_MERCHANT',
  DECRYPT_FAILED: 'DECRYPT_FAILED',
  UNKNOWN_ISSUER: 'UNKNOWN_ISSUER',
  BAD_CREDENTIAL: 'BAD_CREDENTIAL',
  CREDENTIAL_EXPIRED: 'CREDENTIAL_EXPIRED',
  REVOKED: 'REVOKED',
  REVOCATION_STALE: 'REVOCATION_STALE',
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  CHALLENGE_MISMATCH: 'CHALLENGE_MISMATCH',
  CHALLENGE_REQUIRED: 'CHALLENGE_REQUIRED',
  SESSION_EXPIRED: 'SESSION_EXPIRED',
  STALE: 'STALE',
  REPLAYED: 'REPLAYED',
  NO_CHARGE: 'NO_CHARGE',
  AMOUNT_MISMATCH: 'AMOUNT_MISMATCH',
  CURRENCY_MISMATCH: 'CURRENCY_MISMATCH',
  OVER_LIMIT: 'OVER_LIMIT',
  /** Box-side: the debit could not be committed (I/O error, disk full). Never from the core. */
  JOURNAL_FAULT: 'JOURNAL_FAULT',
} as const;
export type DeclineCode = (typeof DECLINE)[keyof typeof DECLINE];

/** How the indicator and the POS tell declines apart. */
export type DeclineCategory = 'customer' | 'retry' | 'fault';

export function declineCategory(code: DeclineCode): DeclineCategory {
  switch (code) {
    case 'STALE':
    case 'SESSION_EXPIRED':
    case 'NO_CHARGE':
    case 'AMOUNT_MISMATCH':
      return 'retry';
    case 'REVOCATION_STALE':
    case 'JOURNAL_FAULT':
      return 'fault';
    case 'MALFORMED':
    case 'UNSUPPORTED_VERSION':
    case 'WRONG_MERCHANT':
    case 'DECRYPT_FAILED':
    case 'UNKNOWN_ISSUER':
    case 'BAD_CREDENTIAL':
    case 'CREDENTIAL_EXPIRED':
    case 'REVOKED':
    case 'BAD_SIGNATURE':
    case 'CHALLENGE_MISMATCH':
    case 'CHALLENGE_REQUIRED':
    case 'REPLAYED':
    case 'CURRENCY_MISMATCH':
    case 'OVER_LIMIT':
      return 'customer';
  }
}
