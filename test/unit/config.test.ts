import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../device/app/config.ts';

const base = JSON.parse(readFileSync('config/default.json', 'utf8')) as Record<string, unknown>;

describe('config validation', () => {
  it('accepts the embedded default and the Pi example', () => {
    expect(parseConfig(base, 'default').scanner.kind).toBe('tcp-sim');
    const pi = parseConfig(JSON.parse(readFileSync('config/pi.example.json', 'utf8')), 'pi');
    expect(pi.scanner).toMatchObject({ kind: 'serial', baudRate: 115200 });
  });

  it('an unknown key stops start-up with a message naming the key', () => {
    expect(() => parseConfig({ ...base, scaner: {} }, 'x.json')).toThrow(/config x\.json: .*"scaner"/);
    expect(() => parseConfig({ ...base, scanner: { kind: 'serial', path: '/dev/x', baud: 9600 } }, 'x.json')).toThrow(/scanner.*"baud"/);
  });

  it('a bad value names the key and is a coded error', () => {
    try {
      parseConfig({ ...base, scanner: { kind: 'serial', path: '/dev/x', baudRate: 'fast' } }, 'x.json');
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: 'CONFIG_INVALID' });
      expect((e as Error).message).toMatch(/scanner\.baudRate/);
    }
    expect(() => parseConfig({ ...base, amount: { mode: 'fixed', price: '12,50' } }, 'x')).toThrow(/amount\.price/);
    expect(() => parseConfig({ ...base, currency: 'euro' }, 'x')).toThrow(/currency/);
  });
});
