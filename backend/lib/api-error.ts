/** An error that maps to an HTTP answer {error: code, message}. The message never holds secrets. */
import { BoxError } from '../../device/core/errors.ts';

export class ApiError extends BoxError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(code, message);
    this.name = 'ApiError';
  }
}

/** HTTP status for a BoxError code thrown by the services. */
export function statusOf(code: string): number {
  switch (code) {
    case 'BAD_REQUEST':
      return 400;
    case 'UNKNOWN_ACCOUNT':
    case 'UNKNOWN_MERCHANT':
    case 'UNKNOWN_DEBIT':
    case 'UNKNOWN_BOX':
      return 404;
    case 'ACCOUNT_EXISTS':
    case 'ENROL_CONFLICT':
    case 'REFUND_EXCEEDS':
    case 'NOT_SETTLED':
    case 'WALLET_REVOKED':
      return 409;
    case 'BOX_REVOKED':
      return 403;
    default:
      return 500;
  }
}
