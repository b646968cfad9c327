/**
 * QR rendering and reading with zxing-wasm, fully offline: the .wasm is loaded from the installed
 * package (zxing-wasm would otherwise fetch it from a CDN and fail on a box or a CI machine).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { prepareZXingModule, readBarcodes, writeBarcode } from 'zxing-wasm';

let ready: Promise<unknown> | undefined;

function prepare(): Promise<unknown> {
  if (!ready) {
    const require = createRequire(import.meta.url);
    const wasm = readFileSync(require.resolve('zxing-wasm/full/zxing_full.wasm'));
    const wasmBinary = wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength);
    ready = prepareZXingModule({ overrides: { wasmBinary }, fireImmediately: true });
  }
  return ready;
}

export interface RenderedQr {
  png: Uint8Array;
  svg: string;
  /** Unicode half-block rendering for a terminal. */
  terminal: string;
  /** Modules per side (QR version = (size - 17) / 4). */
  size: number;
  version: number;
}

/** Renders text as a QR code at error-correction level M. */
export async function renderQr(text: string, scale = 4): Promise<RenderedQr> {
  await prepare();
  const r = await writeBarcode(text, { format: 'QRCode', options: 'ecLevel=M', scale });
  if (r.error || !r.image) throw new Error(`renderQr: zxing could not encode (${r.error || 'no image'})`);
  const size = r.symbol.width;
  return {
    png: new Uint8Array(await r.image.arrayBuffer()),
    svg: r.svg,
    terminal: r.utf8,
    size,
    version: (size - 17) / 4,
  };
}

/** Decodes every QR code in a PNG/JPEG image. */
export async function readQr(image: Uint8Array): Promise<{ text: string; version: string; ecLevel: string }[]> {
  await prepare();
  const results = await readBarcodes(image, { formats: ['QRCode'] });
  return results.filter((r) => r.isValid).map((r) => ({ text: r.text, version: r.version, ecLevel: r.ecLevel }));
}
