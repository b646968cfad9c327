/**
 * A pure, bounded pre-framer that sits in front of @serialport/parser-readline.
 *
 * Why a guard feeds readline instead of readline alone: ReadlineParser (DelimiterParser)
 * concatenates every chunk into an unbounded buffer until it sees the delimiter, so a scanner
 * that floods bytes without a terminator grows memory without limit. The guard tracks the bytes
 * since the last delimiter, drops a line as soon as it passes `maxLineBytes` (counting it once),
 * skips to the next delimiter to resynchronise, and forwards only complete lines (with their
 * delimiters) to readline, which stays the line splitter. Memory held here is at most
 * maxLineBytes + delimiter length.
 */

export interface GuardOutput {
  /** Complete lines, each followed by the delimiter, that fit the bound; empty when none. */
  forward: Uint8Array;
  /** Delimiters in `forward` (= lines readline will emit from it). */
  lines: number;
  /** Lines dropped in this push because they passed maxLineBytes. */
  overflows: number;
}

export class BoundedLineGuard {
  readonly #delimiter: Uint8Array;
  readonly #maxLineBytes: number;
  /** Bytes of the current, unfinished line (content + partially matched delimiter). */
  #carry: Uint8Array[] = [];
  /** Length of the current line so far, including a partially matched delimiter. */
  #lineLen = 0;
  /** How many delimiter bytes at the end of the current line match the delimiter prefix. */
  #matched = 0;
  /** True while skipping an overlong line up to its delimiter. */
  #discarding = false;

  constructor(delimiter: Uint8Array, maxLineBytes: number) {
    if (delimiter.length === 0 || delimiter.length > 2) {
      throw new RangeError(`BoundedLineGuard: expected delimiter of 1-2 bytes, got ${delimiter.length}`);
    }
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) {
      throw new RangeError(`BoundedLineGuard: expected maxLineBytes >= 1, got ${maxLineBytes}`);
    }
    this.#delimiter = delimiter;
    this.#maxLineBytes = maxLineBytes;
  }

  /** Bytes currently held for an unfinished line (for tests and metrics). */
  get heldBytes(): number {
    let n = 0;
    for (const c of this.#carry) n += c.length;
    return n;
  }

  /** Forgets any unfinished line (after a reconnect the partial bytes are stale). */
  reset(): void {
    this.#carry = [];
    this.#lineLen = 0;
    this.#matched = 0;
    this.#discarding = false;
  }

  push(chunk: Uint8Array): GuardOutput {
    const delim = this.#delimiter;
    const segments: Uint8Array[] = [];
    let lines = 0;
    let overflows = 0;
    let lineStart = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      this.#lineLen++;
      if (b === delim[this.#matched]) {
        this.#matched++;
      } else {
        // Our delimiters never overlap themselves beyond their first byte ("\r\r\n" still ends in "\r\n").
        this.#matched = b === delim[0] ? 1 : 0;
      }
      if (this.#matched === delim.length) {
        if (!this.#discarding) {
          segments.push(...this.#carry, chunk.subarray(lineStart, i + 1));
          lines++;
        }
        this.#carry = [];
        this.#lineLen = 0;
        this.#matched = 0;
        this.#discarding = false;
        lineStart = i + 1;
        continue;
      }
      if (!this.#discarding && this.#lineLen - this.#matched > this.#maxLineBytes) {
        overflows++;
        this.#discarding = true;
        this.#carry = [];
      }
    }
    if (!this.#discarding && lineStart < chunk.length) {
      // Copy: the caller may reuse its buffer (serialport reuses a read pool).
      this.#carry.push(chunk.slice(lineStart));
    }
    return { forward: concat(segments), lines, overflows };
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!.slice();
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
