import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundedLineGuard } from '../../drivers/scanner/line-guard.ts';
import { LineReader } from '../../drivers/scanner/line-reader.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe('BoundedLineGuard', () => {
  it('forwards only complete lines, keeping an unfinished tail', () => {
    const g = new BoundedLineGuard(enc('\r\n'), 16);
    const a = g.push(enc('one\r\ntw'));
    expect(dec(a.forward)).toBe('one\r\n');
    expect(a.lines).toBe(1);
    expect(g.heldBytes).toBe(2);
    const b = g.push(enc('o\r'));
    expect(b.lines).toBe(0);
    const c = g.push(enc('\nthree'));
    expect(dec(c.forward)).toBe('two\r\n');
  });

  it('treats a lone CR inside a CRLF-delimited line as content', () => {
    const g = new BoundedLineGuard(enc('\r\n'), 16);
    expect(dec(g.push(enc('a\rb\r\r\n')).forward)).toBe('a\rb\r\r\n');
  });

  it('drops an overlong line once and resynchronises at the next delimiter', () => {
    const g = new BoundedLineGuard(enc('\n'), 4);
    const out = g.push(enc('12345678\nok\n'));
    expect(out.overflows).toBe(1);
    expect(dec(out.forward)).toBe('ok\n');
  });

  it('holds at most maxLineBytes + delimiter bytes during a 1 MB flood with no delimiter', () => {
    const g = new BoundedLineGuard(enc('\r\n'), 4096);
    const chunk = new Uint8Array(64 * 1024).fill(0x41);
    let overflows = 0;
    for (let sent = 0; sent < 1024 * 1024; sent += chunk.length) {
      const out = g.push(chunk);
      overflows += out.overflows;
      expect(out.forward.length).toBe(0);
      expect(g.heldBytes).toBeLessThanOrEqual(4096 + 2);
    }
    expect(overflows).toBe(1);
    expect(dec(g.push(enc('tail\r\nnext\r\n')).forward)).toBe('next\r\n');
  });

  it('rejects a bad delimiter or bound', () => {
    expect(() => new BoundedLineGuard(new Uint8Array(0), 10)).toThrow(/delimiter/);
    expect(() => new BoundedLineGuard(enc('\n'), 0)).toThrow(/maxLineBytes/);
  });

  it('property: any chunking of short lines yields exactly those lines, in order', () => {
    const line = fc.string({ unit: fc.constantFrom('a', 'b', '\r', 'Z'), minLength: 0, maxLength: 12 });
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), fc.array(fc.nat(40), { maxLength: 10 }), (lines, cuts) => {
        const clean = lines.map((l) => l.replaceAll('\r', '')); // no delimiter bytes inside lines
        const bytes = enc(clean.map((l) => `${l}\r\n`).join(''));
        const g = new BoundedLineGuard(enc('\r\n'), 12);
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
        let prev = 0;
        let out = '';
        for (const p of [...points, bytes.length]) {
          out += dec(g.push(bytes.subarray(prev, p)).forward);
          prev = p;
        }
        expect(out).toBe(clean.map((l) => `${l}\r\n`).join(''));
        expect(g.heldBytes).toBe(0);
      }),
    );
  });
});

describe('LineReader', () => {
  function reader(maxLineBytes = 32) {
    const lines: Array<[string, bigint]> = [];
    const drops: string[] = [];
    let t = 100n;
    const r = new LineReader({
      delimiter: '\r',
      maxLineBytes,
      nowNs: () => t,
      onLine: (l, m) => lines.push([l, m.receivedAtNs]),
      onDrop: (reason) => drops.push(reason),
    });
    return { r, lines, drops, setTime: (v: bigint) => (t = v) };
  }
  const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

  it('stamps each line with the arrival time of the chunk holding its delimiter', async () => {
    const { r, lines, setTime } = reader();
    r.write(enc('AB'));
    setTime(200n);
    r.write(enc('C\rD'));
    setTime(300n);
    r.write(enc('\r'));
    await flush();
    expect(lines).toEqual([
      ['ABC', 200n],
      ['D', 300n],
    ]);
  });

  it('drops invalid UTF-8, C0/C1 control characters and skips empty lines', async () => {
    const { r, lines, drops } = reader();
    r.write(new Uint8Array([0xc3, 0x28, 0x0d])); // invalid 2-byte sequence, CR
    r.write(enc('a\tb\r')); // TAB
    r.write(enc('x\u0085y\r')); // C1 NEL
    r.write(enc('\r\r')); // empty lines
    r.write(enc('ok\r'));
    await flush();
    expect(lines.map(([l]) => l)).toEqual(['ok']);
    expect(drops).toEqual(['invalid-utf8', 'control-char', 'control-char']);
  });

  it('reset() forgets an unfinished line', async () => {
    const { r, lines } = reader();
    r.write(enc('stale-part'));
    r.reset();
    r.write(enc('fresh\r'));
    await flush();
    expect(lines.map(([l]) => l)).toEqual(['fresh']);
    expect(r.heldBytes).toBe(0);
  });
});
