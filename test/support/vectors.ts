/** Loads the official vectors from ../shared/vectors (never copied into the repo). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nobleProvider } from '../../device/core/crypto/noble.ts';
import type { CryptoProvider } from '../../device/core/crypto/provider.ts';
import { createNodeProvider } from '../../device/crypto/node-provider.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const vectorsDir = path.resolve(repoRoot, '../shared/vectors');

/** Parsed JSON of one vector file, e.g. loadVectors<HpkeFile>('hpke_x25519_chacha.json'). */
export function loadVectors<T = unknown>(file: string): T {
  return JSON.parse(readFileSync(path.join(vectorsDir, file), 'utf8')) as T;
}

/** Lowercase hex -> bytes (vector files use lowercase hex, empty string = empty bytes). */
export function hex(h: string): Uint8Array {
  return Uint8Array.from(Buffer.from(h, 'hex'));
}

/** Bytes -> lowercase hex, for readable assertions. */
export function toHexString(b: Uint8Array | null): string | null {
  return b === null ? null : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}


/** Both providers, for describe.each: every vector must pass on each. */
export function allProviders(): Array<[string, CryptoProvider]> {
  return [
    ['noble', nobleProvider],
    ['node', createNodeProvider()],
  ];
}
