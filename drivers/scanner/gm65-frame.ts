/**
 * Pure codec for the Grow GM65-family "7E 00" serial command protocol (see HARDWARE.md).
 *   command: 7E 00 | type | len | addrHi addrLo | data[len] | crcHi crcLo
 *   reply:   02 00 | status | len | data[len] | crcHi crcLo
 * CRC is CRC-CCITT/XModem (poly 0x1021, init 0): over type..data for commands and over
 * status..data for replies. A command may carry AB CD instead of its CRC to skip the check.
 */

export const Gm65Type = { read: 0x07, write: 0x08, save: 0x09 } as const;
export type Gm65Type = (typeof Gm65Type)[keyof typeof Gm65Type];

export const NO_CRC = 0xabcd;

export function crc16Ccitt(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

export function buildCommand(type: Gm65Type, address: number, data: Uint8Array): Uint8Array {
  if (data.length < 1 || data.length > 255) throw new RangeError(`gm65.buildCommand: expected 1-255 data bytes, got ${data.length}`);
  if (!Number.isInteger(address) || address < 0 || address > 0xffff) {
    throw new RangeError(`gm65.buildCommand: expected address 0..0xffff, got ${address}`);
  }
  const body = new Uint8Array(4 + data.length);
  body.set([type, data.length, address >> 8, address & 0xff]);
  body.set(data, 4);
  const crc = crc16Ccitt(body);
  const frame = new Uint8Array(2 + body.length + 2);
  frame.set([0x7e, 0x00]);
  frame.set(body, 2);
  frame.set([crc >> 8, crc & 0xff], 2 + body.length);
  return frame;
}

export interface Gm65Command {
  type: number;
  address: number;
  data: Uint8Array;
  /** Bytes the frame occupied. */
  length: number;
}

/**
 * Parses one command frame at the start of `bytes` (used by the simulator).
 * Returns null when incomplete, 'bad' when the header or CRC is wrong.
 */
export function parseCommand(bytes: Uint8Array): Gm65Command | 'bad' | null {
  if (bytes.length < 1) return null;
  if (bytes[0] !== 0x7e || (bytes.length > 1 && bytes[1] !== 0x00)) return 'bad';
  if (bytes.length < 4) return null;
  const len = bytes[3]!;
  const total = 2 + 4 + len + 2;
  if (bytes.length < total) return null;
  const body = bytes.subarray(2, 6 + len);
  const crc = (bytes[6 + len]! << 8) | bytes[7 + len]!;
  if (crc !== NO_CRC && crc !== crc16Ccitt(body)) return 'bad';
  return { type: body[0]!, address: (body[2]! << 8) | body[3]!, data: body.slice(4), length: total };
}

export function buildReply(data: Uint8Array, status = 0x00): Uint8Array {
  const body = new Uint8Array(2 + data.length);
  body.set([status, data.length]);
  body.set(data, 2);
  const crc = crc16Ccitt(body);
  const out = new Uint8Array(2 + body.length + 2);
  out.set([0x02, 0x00]);
  out.set(body, 2);
  out.set([crc >> 8, crc & 0xff], 2 + body.length);
  return out;
}

export interface Gm65Reply {
  status: number;
  data: Uint8Array;
}

const MAX_REPLY = 2 + 2 + 255 + 2;

/**
 * Incremental reply parser: skips bytes until a `02 00` header, checks the CRC, and drops
 * (counts) bad frames by resynchronising one byte later. Holds at most one reply's bytes.
 */
export class Gm65ReplyParser {
  #buf = new Uint8Array(0);
  dropped = 0;

  reset(): void {
    this.#buf = new Uint8Array(0);
  }

  push(chunk: Uint8Array): Gm65Reply[] {
    const joined = new Uint8Array(this.#buf.length + chunk.length);
    joined.set(this.#buf);
    joined.set(chunk, this.#buf.length);
    const replies: Gm65Reply[] = [];
    let i = 0;
    while (i < joined.length) {
      if (joined[i] !== 0x02) {
        i++;
        continue;
      }
      if (i + 4 > joined.length) break;
      if (joined[i + 1] !== 0x00) {
        i++;
        continue;
      }
      const len = joined[i + 3]!;
      const total = 4 + len + 2;
      if (i + total > joined.length) break;
      const body = joined.subarray(i + 2, i + 4 + len);
      const crc = (joined[i + 4 + len]! << 8) | joined[i + 5 + len]!;
      if (crc !== crc16Ccitt(body)) {
        this.dropped++;
        i++;
        continue;
      }
      replies.push({ status: body[0]!, data: body.slice(2) });
      i += total;
    }
    const rest = joined.subarray(i);
    this.#buf = rest.length > MAX_REPLY ? rest.slice(rest.length - MAX_REPLY) : rest.slice();
    return replies;
  }
}
