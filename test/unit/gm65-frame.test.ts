import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../device/core/encoding/bytes.ts';
import {
  buildCommand,
  buildReply,
  crc16Ccitt,
  Gm65ReplyParser,
  Gm65Type,
  parseCommand,
} from '../../drivers/scanner/gm65-frame.ts';

const h = (s: string) => fromHex(s.replaceAll(' ', ''));

describe('GM65 frame codec', () => {
  it('CRC-CCITT (0x1021, init 0) matches the check value and module fixtures', () => {
    expect(crc16Ccitt(new TextEncoder().encode('123456789'))).toBe(0x31c3); // XModem check value
  });

  it.each([
    // save to EEPROM
    ['7e 00' /* head */ + ' 09' /* type: save */ + ' 01' /* len */ + ' 00 00' /* addr */ + ' 00' /* data */ + ' de c8' /* crc */, Gm65Type.save, 0x0000, '00'],
    // read 2 bytes of the baud register
    ['7e 00' /* head */ + ' 07' /* type: read */ + ' 01' /* len */ + ' 00 2a' /* addr: baud */ + ' 02' /* read 2 bytes */ + ' d8 0f' /* crc */, Gm65Type.read, 0x002a, '02'],
    // write baud 9600 (code 0x0139, low byte first)
    ['7e 00' /* head */ + ' 08' /* type: write */ + ' 02' /* len */ + ' 00 2a' /* addr: baud */ + ' 39 01' /* 9600 */ + ' a7 ea' /* crc */, Gm65Type.write, 0x002a, '3901'],
  ])('builds %s', (hex, type, addr, data) => {
    const frame = buildCommand(type, addr, fromHex(data));
    expect(toHex(frame)).toBe(hex.replaceAll(' ', ''));
    expect(parseCommand(frame)).toMatchObject({ type, address: addr, length: frame.length });
  });

  it('parses a command with AB CD in place of the CRC, and rejects a bit flip', () => {
    // 7e 00 head | 08 write | 02 len | 00 2a baud | 1a 00 = 115200 | ab cd = skip check
    const cmd = parseCommand(h('7e 00 08 02 00 2a 1a 00 ab cd'));
    expect(cmd).toMatchObject({ type: 0x08, address: 0x002a });
    expect(parseCommand(h('7e 00 09 01 00 00 01 de c8'))).toBe('bad'); // data flipped 00 -> 01
    expect(parseCommand(h('7e 00 09 01'))).toBeNull(); // incomplete
  });

  it('builds the write acknowledgement 02 00 00 01 00 33 31', () => {
    // 02 00 head | 00 status ok | 01 len | 00 data | 33 31 crc over status..data
    expect(toHex(buildReply(Uint8Array.of(0x00)))).toBe('02000001003331');
  });

  it('reply parser: resyncs past noise, split chunks and a corrupted reply', () => {
    const p = new Gm65ReplyParser();
    const good = buildReply(Uint8Array.of(0x42));
    const bad = buildReply(Uint8Array.of(0x43));
    bad[4] = 0x44; // data corrupted, CRC now wrong
    expect(p.push(Uint8Array.of(0x41, 0x0d, ...bad, ...good.subarray(0, 3)))).toEqual([]);
    expect(p.push(good.subarray(3))).toEqual([{ status: 0, data: Uint8Array.of(0x42) }]);
    expect(p.dropped).toBe(1);
  });

  it('reply parser: hostile inputs never throw', () => {
    const p = new Gm65ReplyParser();
    for (const input of [new Uint8Array(0), Uint8Array.of(2), new Uint8Array(65536).fill(2), h('02 00 00 ff')]) {
      expect(() => p.push(input)).not.toThrow();
    }
  });
});
