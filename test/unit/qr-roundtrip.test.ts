import { describe, expect, it } from 'vitest';
import { nobleProvider } from '../../device/core/crypto/noble.ts';
import { decide } from '../../device/core/decide.ts';
import { createNodeProvider } from '../../device/crypto/node-provider.ts';
import { readQr, renderQr } from '../../wallet/cli/qr.ts';
import { baseInput, makeWorld } from '../support/world.ts';

describe('real QR image round trip: wallet -> PNG (zxing-wasm) -> decode image -> core', () => {
  it('accepts the code read back from the PNG, and it fits QR version 15 at level M', async () => {
    const w = makeWorld(nobleProvider);
    const { text } = w.wallet(1).pay(w.shopA.cards[0]!, 12_50);
    const qr = await renderQr(text);
    expect(qr.png.subarray(1, 4)).toEqual(new Uint8Array([0x50, 0x4e, 0x47])); // "PNG"
    expect(qr.version).toBeLessThanOrEqual(15);
    expect(qr.svg).toContain('<svg');
    expect(qr.terminal.length).toBeGreaterThan(100);

    const read = await readQr(qr.png);
    expect(read).toHaveLength(1);
    expect(read[0]!.text).toBe(text);
    expect(read[0]!.ecLevel).toBe('M');

    const node = createNodeProvider();
    const d = decide(node, baseInput(makeWorld(node), read[0]!.text));
    expect(d.kind).toBe('accept');
  });

  it('an image without a code decodes to nothing', async () => {
    const blank = await renderQr('X');
    blank.png.fill(0xff, 64); // corrupt the image data
    expect(await readQr(blank.png).catch(() => [])).toEqual([]);
  });
});
