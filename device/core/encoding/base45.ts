/**
 * Base45 (RFC 9285): the QR alphanumeric-mode encoding of the payment payload.
 * Runs on every scan, so both directions use lookup tables and no regular expressions.
 *
 * The decoder is strict (RFC 9285 section 6): it returns null, never throws, for a character
 * outside the 45-character alphabet, a 3-character group above 65535, a final 2-character group
 * above 255, or a length of 3k + 1.
 */

export const BASE45_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';

/** Char code -> value, 255 for characters outside the alphabet. Covers char codes 0..127. */
const DECODE_TABLE = (() => {
  const t = new Uint8Array(128).fill(255);
  for (let i = 0; i < BASE45_ALPHABET.length; i++) t[BASE45_ALPHABET.charCodeAt(i)] = i;
  return t;
})();

const ENCODE_TABLE: readonly string[] = Array.from(BASE45_ALPHABET);

export function base45Encode(bytes: Uint8Array): string {
  const n = bytes.length;
  const parts: string[] = [];
  let i = 0;
  for (; i + 1 < n; i += 2) {
    let v = bytes[i]! * 256 + bytes[i + 1]!;
    const c = v % 45;
    v = (v - c) / 45;
    const d = v % 45;
    const e = (v - d) / 45;
    parts.push(ENCODE_TABLE[c]! + ENCODE_TABLE[d]! + ENCODE_TABLE[e]!);
  }
  if (i < n) {
    const v = bytes[i]!;
    const c = v % 45;
    parts.push(ENCODE_TABLE[c]! + ENCODE_TABLE[(v - c) / 45]!);
  }
  return parts.join('');
}

/** Value of the character at `i`, or 255 when it is outside the alphabet. */
function valueAt(text: string, i: number): number {
  const code = text.charCodeAt(i);
  return code < 128 ? DECODE_TABLE[code]! : 255;
}

export function base45Decode(text: string): Uint8Array | null {
  if (typeof text !== 'string') return null;
  const n = text.length;
  const rest = n % 3;
  if (rest === 1) return null;
  const out = new Uint8Array(((n - rest) / 3) * 2 + (rest === 2 ? 1 : 0));
  let o = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const c = valueAt(text, i);
    const d = valueAt(text, i + 1);
    const e = valueAt(text, i + 2);
    if ((c | d | e) === 255) return null; // valid values are < 64, so only 255 sets all 8 bits
    const v = c + d * 45 + e * 2025;
    if (v > 0xffff) return null;
    out[o++] = v >> 8;
    out[o++] = v & 0xff;
  }
  if (rest === 2) {
    const c = valueAt(text, i);
    const d = valueAt(text, i + 1);
    if ((c | d) === 255) return null;
    const v = c + d * 45;
    if (v > 0xff) return null;
    out[o] = v;
  }
  return out;
}
