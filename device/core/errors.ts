/** One error type for the whole box: a stable code, a retryable flag, and a message that never holds secrets. */
export class BoxError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  constructor(code: string, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BoxError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

export function isBoxError(e: unknown): e is BoxError {
  return e instanceof BoxError;
}

export function isRetryable(e: unknown): boolean {
  return isBoxError(e) && e.retryable;
}

/** Describe a value for an error message without ever printing its content in full. */
export function describeValue(v: unknown): string {
  if (v instanceof Uint8Array) return `Uint8Array(${v.length})`;
  if (typeof v === 'string') return v.length > 24 ? `string(${v.length})` : JSON.stringify(v);
  return typeof v === 'object' ? (v === null ? 'null' : 'object') : `${typeof v} ${String(v)}`;
}
