/**
 * Minimal canonical binary codec: big-endian fixed-width integers, and byte strings with a
 * one-byte (str8/bytes8) or two-byte (bytes16) length prefix. Every format in docs/protocol.md
 * is a fixed sequence of these fields: there is exactly one encoding of each value.
 */
import { concatBytes } from '../encoding/bytes.ts';

/** Thrown only inside decoders; every public decode function catches it and returns null. */
class Truncated extends Error {}

export class Reader {
  private o = 0;
  constructor(private readonly b: Uint8Array) {}

  get offset(): number {
    return this.o;
  }
  get remaining(): number {
    return this.b.length - this.o;
  }
  u8(): number {
    if (this.o + 1 > this.b.length) throw new Truncated();
    return this.b[this.o++]!;
  }
  u16(): number {
    if (this.o + 2 > this.b.length) throw new Truncated();
    const v = (this.b[this.o]! << 8) | this.b[this.o + 1]!;
    this.o += 2;
    return v;
  }
  u32(): number {
    if (this.o + 4 > this.b.length) throw new Truncated();
    const b = this.b;
    const o = this.o;
    this.o += 4;
    return ((b[o]! << 24) >>> 0) + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
  }
  i32(): number {
    const v = this.u32();
    return v >= 0x80000000 ? v - 0x100000000 : v;
  }
  bytes(n: number): Uint8Array {
    if (this.o + n > this.b.length) throw new Truncated();
    const v = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return v;
  }
  bytes8(): Uint8Array {
    return this.bytes(this.u8());
  }
  bytes16(): Uint8Array {
    return this.bytes(this.u16());
  }
  /** Printable ASCII only (0x20..0x7e); anything else is a decode failure. */
  ascii(n: number): string {
    const v = this.bytes(n);
    let s = '';
    for (let i = 0; i < v.length; i++) {
      const c = v[i]!;
      if (c < 0x20 || c > 0x7e) throw new Truncated();
      s += String.fromCharCode(c);
    }
    return s;
  }
  ascii8(): string {
    return this.ascii(this.u8());
  }
  utf8str8(): string {
    const v = this.bytes8();
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(v);
    } catch {
      throw new Truncated();
    }
  }
  /** Fails unless every byte was consumed: no trailing data is ever accepted. */
  end(): void {
    if (this.o !== this.b.length) throw new Truncated();
  }
}

/** Run a decoder; any truncation, bad field or trailing byte gives null. Never throws. */
export function decodeWith<T>(bytes: Uint8Array, f: (r: Reader) => T | null): T | null {
  try {
    const r = new Reader(bytes);
    const v = f(r);
    if (v === null) return null;
    r.end();
    return v;
  } catch (e) {
    if (e instanceof Truncated || e instanceof RangeError) return null;
    throw e;
  }
}

export class Writer {
  private parts: Uint8Array[] = [];
  u8(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`Writer.u8: expected 0..255, got ${v}`);
    this.parts.push(Uint8Array.of(v));
    return this;
  }
  u16(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`Writer.u16: expected 0..65535, got ${v}`);
    this.parts.push(Uint8Array.of(v >>> 8, v & 0xff));
    return this;
  }
  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`Writer.u32: expected 0..2^32-1, got ${v}`);
    this.parts.push(Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff));
    return this;
  }
  i32(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new RangeError(`Writer.i32: out of range ${v}`);
    return this.u32(v < 0 ? v + 0x100000000 : v);
  }
  bytes(v: Uint8Array, expectedLength?: number): this {
    if (expectedLength !== undefined && v.length !== expectedLength) {
      throw new RangeError(`Writer.bytes: expected ${expectedLength} bytes, got ${v.length}`);
    }
    this.parts.push(v);
    return this;
  }
  bytes8(v: Uint8Array): this {
    return this.u8(v.length).bytes(v);
  }
  bytes16(v: Uint8Array): this {
    return this.u16(v.length).bytes(v);
  }
  ascii(s: string, expectedLength?: number): this {
    if (!/^[\x20-\x7e]*$/.test(s)) throw new RangeError('Writer.ascii: expected printable ASCII');
    const b = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
    return this.bytes(b, expectedLength);
  }
  ascii8(s: string): this {
    if (s.length > 255) throw new RangeError(`Writer.ascii8: too long (${s.length})`);
    return this.u8(s.length).ascii(s);
  }
  utf8str8(s: string): this {
    return this.bytes8(new TextEncoder().encode(s));
  }
  finish(): Uint8Array {
    return concatBytes(...this.parts);
  }
}
