import { ReadlineParser } from '@serialport/parser-readline';
import { BoundedLineGuard } from './line-guard.ts';
import type { LineDelimiter, LineMeta } from './types.ts';

export type DropReason = 'overflow' | 'invalid-utf8' | 'control-char';

export interface LineReaderOptions {
  delimiter: LineDelimiter;
  maxLineBytes: number;
  onLine(line: string, meta: LineMeta): void;
  /** Called once per dropped line; `bytes` is the dropped length when known (0 for overflow). */
  onDrop(reason: DropReason, bytes: number): void;
  /** Monotonic clock in ns; defaults to process.hrtime.bigint. */
  nowNs?: () => bigint;
}

// C0 controls, DEL and C1 controls. A scan is printable text only.
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Bytes in, validated text lines out: BoundedLineGuard (bound + resync) -> ReadlineParser
 * (splitting) -> fatal UTF-8 decode and control-character check.
 * Never throws on input; bad lines are reported through onDrop.
 */
export class LineReader {
  readonly #opts: LineReaderOptions;
  readonly #delimiter: Buffer;
  readonly #nowNs: () => bigint;
  readonly #decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  #guard: BoundedLineGuard;
  #parser: ReadlineParser;
  /** Arrival times of forwarded delimiters, consumed one per line readline emits (FIFO). */
  #arrivals: bigint[] = [];

  constructor(opts: LineReaderOptions) {
    this.#opts = opts;
    this.#delimiter = Buffer.from(opts.delimiter, 'latin1');
    this.#nowNs = opts.nowNs ?? process.hrtime.bigint;
    this.#guard = new BoundedLineGuard(this.#delimiter, opts.maxLineBytes);
    this.#parser = this.#newParser();
  }

  write(chunk: Uint8Array): void {
    const at = this.#nowNs();
    const out = this.#guard.push(chunk);
    for (let i = 0; i < out.overflows; i++) this.#opts.onDrop('overflow', 0);
    if (out.lines === 0) return;
    for (let i = 0; i < out.lines; i++) this.#arrivals.push(at);
    this.#parser.write(Buffer.from(out.forward.buffer, out.forward.byteOffset, out.forward.length));
  }

  /** Drops any unfinished line; lines already framed are still delivered. */
  reset(): void {
    this.#guard.reset();
  }

  /** Bytes held for an unfinished line (bounded by maxLineBytes + delimiter length). */
  get heldBytes(): number {
    return this.#guard.heldBytes;
  }

  #newParser(): ReadlineParser {
    // encoding: undefined keeps Buffers so the UTF-8 check below can be strict.
    const parser = new ReadlineParser({ delimiter: this.#delimiter, encoding: undefined });
    parser.on('data', (raw: Buffer) => this.#handleRaw(raw));
    return parser;
  }

  #handleRaw(raw: Buffer): void {
    const receivedAtNs = this.#arrivals.shift() ?? this.#nowNs();
    if (raw.length === 0) return; // back-to-back delimiters (e.g. CR then CR): not a scan
    let text: string;
    try {
      text = this.#decoder.decode(raw);
    } catch {
      this.#opts.onDrop('invalid-utf8', raw.length);
      return;
    }
    if (CONTROL_CHARS.test(text)) {
      this.#opts.onDrop('control-char', raw.length);
      return;
    }
    this.#opts.onLine(text, { receivedAtNs });
  }
}
