import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  parseCclk,
  parseCops,
  parseCsq,
  parseFinal,
  parseQlts,
  parseRegistration,
} from '../../drivers/modem/at-parser.ts';

describe('parseRegistration (+CEREG / +CGREG / +CREG)', () => {
  it('reads a query answer: n, stat', () => {
    // +CEREG: <n=0 no URCs>,<stat=1 registered, home>
    expect(parseRegistration('+CEREG: 0,1')).toEqual({ n: 0, stat: 1, registration: 'home', registered: true });
    // <n=0>,<stat=5 registered, roaming>
    expect(parseRegistration('+CEREG: 0,5')).toMatchObject({ registration: 'roaming', registered: true });
    // <n=0>,<stat=2 not registered, searching>
    expect(parseRegistration('+CEREG: 0,2')).toMatchObject({ registration: 'searching', registered: false });
    // <n=0>,<stat=3 registration denied>
    expect(parseRegistration('+CEREG: 0,3')).toMatchObject({ registration: 'denied', registered: false });
    // <n=0>,<stat=0 not registered, not searching>
    expect(parseRegistration('+CEREG: 0,0')).toMatchObject({ registration: 'not-registered', registered: false });
    // <n=0>,<stat=4 unknown (out of coverage)>
    expect(parseRegistration('+CEREG: 0,4')).toMatchObject({ registration: 'unknown', registered: false });
  });

  it('reads location fields when n >= 2', () => {
    // <n=2 URCs with location>,<stat=1>,<tac "1A2B">,<ci "01A2B3C4">,<AcT=7 E-UTRAN>
    expect(parseRegistration('+CEREG: 2,1,"1A2B","01A2B3C4",7')).toEqual({
      n: 2,
      stat: 1,
      registration: 'home',
      registered: true,
      tac: '1A2B',
      ci: '01A2B3C4',
      act: 7,
    });
  });

  it('reads an unsolicited report (stat first, no n)', () => {
    // URC: <stat=5 roaming>,<tac>,<ci>,<AcT=7>
    expect(parseRegistration('+CEREG: 5,"1A2B","01A2B3C4",7')).toMatchObject({ stat: 5, registered: true });
    expect(parseRegistration('+CEREG: 5,"1A2B","01A2B3C4",7')?.n).toBeUndefined();
    // URC with stat only
    expect(parseRegistration('+CEREG: 2')).toMatchObject({ stat: 2, registration: 'searching' });
  });

  it('accepts +CGREG and +CREG with the same layout, and SMS-only stat as not registered', () => {
    expect(parseRegistration('+CGREG: 0,1')).toMatchObject({ registered: true });
    expect(parseRegistration('+CREG: 0,5')).toMatchObject({ registration: 'roaming' });
    // <stat=6 registered for SMS only, home>: no data, so not registered for us
    expect(parseRegistration('+CEREG: 0,6')).toMatchObject({ registration: 'unknown', registered: false });
  });

  it.each([
    '',
    '+CEREG:',
    '+CEREG: ',
    '+CEREG: x,1',
    '+CEREG: 0,11',
    '+CEREG: 0,1,"1A2B',
    '+CSQ: 20,99',
    'OK',
  ])('drops %j', (line) => {
    expect(parseRegistration(line)).toBeUndefined();
  });
});

describe('parseCsq (+CSQ: <rssi>,<ber>)', () => {
  it('converts rssi to dBm = -113 + 2 * rssi', () => {
    // <rssi=20 -> -73 dBm>,<ber=99 unknown>
    expect(parseCsq('+CSQ: 20,99')).toEqual({ rssi: 20, ber: 99, rssiDbm: -73 });
    // <rssi=0 -> -113 dBm or less>,<ber=0>
    expect(parseCsq('+CSQ: 0,0')).toEqual({ rssi: 0, ber: 0, rssiDbm: -113 });
    // <rssi=31 -> -51 dBm or more>,<ber=7>
    expect(parseCsq('+CSQ: 31,7')).toEqual({ rssi: 31, ber: 7, rssiDbm: -51 });
  });

  it('leaves dBm out when rssi is 99 (unknown)', () => {
    // <rssi=99 not known or not detectable>,<ber=99>
    expect(parseCsq('+CSQ: 99,99')).toEqual({ rssi: 99, ber: 99 });
  });

  it.each(['+CSQ: 32,99', '+CSQ: 20', '+CSQ: 20,8', '+CSQ: -1,99', '+CSQ: a,b', '+CSQ: 20,99,1', 'CSQ: 20,99'])(
    'drops %j',
    (line) => {
      expect(parseCsq(line)).toBeUndefined();
    },
  );
});

describe('parseCops (+COPS?)', () => {
  it('reads mode, format, operator and AcT', () => {
    // <mode=0 automatic>,<format=0 long alphanumeric>,<oper "Vodafone.de">,<AcT=7 E-UTRAN>
    expect(parseCops('+COPS: 0,0,"Vodafone.de",7')).toEqual({ mode: 0, format: 0, operator: 'Vodafone.de', act: 7 });
    // <mode=0>,<format=2 numeric>,<oper "26202" MCC 262 + MNC 02> (no AcT)
    expect(parseCops('+COPS: 0,2,"26202"')).toEqual({ mode: 0, format: 2, operator: '26202' });
  });

  it('reads a lone mode as "no operator"', () => {
    expect(parseCops('+COPS: 0')).toEqual({ mode: 0 });
  });

  it.each(['+COPS:', '+COPS: 9', '+COPS: 0,0', '+COPS: 0,5,"X"', '+COPS: 0,0,Vodafone', '+COPS: 0,0,"Voda'])(
    'drops %j',
    (line) => {
      expect(parseCops(line)).toBeUndefined();
    },
  );
});

describe('parseQlts (Quectel AT+QLTS=1)', () => {
  it('reads GMT time; the zone (quarter hours) does not shift it', () => {
    // "<yyyy/MM/dd=2026/11/25>,<hh:mm:ss=10:00:00 GMT><zz=+32 quarter hours = +8h>,<dst=0>"
    expect(parseQlts('+QLTS: "2026/11/25,10:00:00+32,0"')).toBe(Date.UTC(2026, 10, 25, 10, 0, 0));
    // negative zone: -20 quarter hours = -5h, still GMT
    expect(parseQlts('+QLTS: "2026/03/01,23:59:59-20,1"')).toBe(Date.UTC(2026, 2, 1, 23, 59, 59));
  });

  it('subtracts the zone for local mode (AT+QLTS=2)', () => {
    // local 18:00 at +32 quarters (+8h) is 10:00 GMT
    expect(parseQlts('+QLTS: "2026/11/25,18:00:00+32,0"', { local: true })).toBe(Date.UTC(2026, 10, 25, 10));
  });

  it('answers undefined when the operator sent no NITZ', () => {
    expect(parseQlts('+QLTS: ""')).toBeUndefined();
  });

  it.each([
    '+QLTS: "2026/13/25,10:00:00+32,0"',
    '+QLTS: "2026/02/31,10:00:00+32,0"',
    '+QLTS: "2026/11/25,24:00:00+32,0"',
    '+QLTS: "2026/11/25,10:00:00+32"',
    '+QLTS: "2026/11/25,10:00:00+99,0"',
    '+QLTS: "26/11/25,10:00:00+32,0"',
    '+QLTS: "2026/11/25,10:00:00+32,0',
    '+QLTS: 2026/11/25',
    '+QLTS: "2004/01/01,00:00:00+00,0"',
  ])('drops %j', (line) => {
    expect(parseQlts(line)).toBeUndefined();
  });
});

describe('parseCclk (+CCLK: local time)', () => {
  it('converts local time to GMT with the quarter-hour zone', () => {
    // "<yy/MM/dd=26/11/25>,<hh:mm:ss=10:00:00 local><zz=+32 = +8h>" -> 02:00 GMT
    expect(parseCclk('+CCLK: "26/11/25,10:00:00+32"')).toBe(Date.UTC(2026, 10, 25, 2, 0, 0));
    // <zz=-14 = -3h30> -> 13:30 GMT
    expect(parseCclk('+CCLK: "26/11/25,10:00:00-14"')).toBe(Date.UTC(2026, 10, 25, 13, 30, 0));
  });

  it('rejects the RTC defaults a modem without NITZ answers', () => {
    expect(parseCclk('+CCLK: "80/01/06,00:00:49+00"')).toBeUndefined();
    expect(parseCclk('+CCLK: "04/01/01,00:00:12+00"')).toBeUndefined();
    expect(parseCclk('+CCLK: "00/01/01,00:01:00+00"')).toBeUndefined();
    // a custom floor
    expect(parseCclk('+CCLK: "26/11/25,10:00:00+00"', { notBeforeMs: Date.UTC(2027, 0, 1) })).toBeUndefined();
  });

  it.each(['+CCLK: ""', '+CCLK: "26/11/25"', '+CCLK: "2026/11/25,10:00:00+32"', '+CCLK: 26/11/25,10:00:00+32'])(
    'drops %j',
    (line) => {
      expect(parseCclk(line)).toBeUndefined();
    },
  );
});

describe('parseFinal', () => {
  it('classifies final result codes', () => {
    expect(parseFinal('OK')).toEqual({ ok: true });
    expect(parseFinal('ERROR')).toEqual({ ok: false, code: 'ERROR' });
    expect(parseFinal('+CME ERROR: 10')).toEqual({ ok: false, code: 'CME_ERROR', detail: '10' });
    expect(parseFinal('+CMS ERROR: 500')).toEqual({ ok: false, code: 'CMS_ERROR', detail: '500' });
    expect(parseFinal('+CSQ: 20,99')).toBeUndefined();
    expect(parseFinal('OKAY')).toBeUndefined();
  });
});

describe('hostile inputs', () => {
  const parsers = [parseRegistration, parseCsq, parseCops, parseQlts, parseCclk, parseFinal] as ((l: unknown) => unknown)[];
  const table: unknown[] = [
    '',
    'A',
    'x'.repeat(65536),
    '+CEREG: 0,1'.slice(0, 8),
    '+QLTS: "2026/11/25,10:00:00+32,0"'.slice(0, 20),
    '+CSQ: \u0000\u00ff',
    '+COPS: 0,0,"\u{1F600}",7',
    '+CCLK: "99/99/99,99:99:99+99"',
    null,
    undefined,
    42,
    {},
  ];

  it('never throws on the hostile table', () => {
    for (const p of parsers) for (const input of table) expect(() => p(input)).not.toThrow();
  });

  it('never throws on arbitrary strings (property)', () => {
    const prefixed = fc.tuple(fc.constantFrom('+CEREG: ', '+CSQ: ', '+COPS: ', '+QLTS: ', '+CCLK: ', ''), fc.string());
    fc.assert(
      fc.property(prefixed, ([pre, s]) => {
        for (const p of parsers) p(pre + s);
      }),
    );
  });

  it('CSQ dBm is -113 + 2 * rssi for every rssi 0..31 (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 31 }), (rssi) => parseCsq(`+CSQ: ${rssi},99`)?.rssiDbm === -113 + 2 * rssi),
    );
  });
});
