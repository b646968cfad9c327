import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { fromHex, toHex } from '../../device/core/encoding/bytes.ts';
import { buildSelect, chunkAnswer } from '../../drivers/nfc/apdu.ts';
import { createHceResponder } from '../../wallet/lib/nfc-hce.ts';

const hex = (s: string) => fromHex(s.replace(/\s+/g, ''));
const swOf = (r: Uint8Array) => toHex(r.subarray(r.length - 2));

function phone(accept = true) {
  let counter = 0;
  const onAnswer = vi.fn((_nonce: Uint8Array, _answer: Uint8Array) => accept);
  const responder = createHceResponder({
    randomBytes: (n) => Uint8Array.from({ length: n }, () => ++counter & 0xff),
    onAnswer,
  });
  return { responder, onAnswer };
}

describe('HCE responder: SELECT', () => {
  it('answers version 01 || 16-byte nonce || 9000', () => {
    const { responder } = phone();
    const r = responder.respond(buildSelect());
    expect(toHex(r)).toBe('01' + '0102030405060708090a0b0c0d0e0f10' + '9000');
  });

  it('a fresh nonce per SELECT', () => {
    const { responder } = phone();
    const a = responder.respond(buildSelect());
    const b = responder.respond(buildSelect());
    expect(toHex(a)).not.toBe(toHex(b));
  });

  it('unknown AID -> 6A82, and forgets the previous selection', () => {
    const { responder } = phone();
    responder.respond(buildSelect());
    expect(swOf(responder.respond(hex('00a4040007a000000003101000')))).toBe('6a82');
    expect(swOf(responder.respond(chunkAnswer(hex('aa'))[0]!))).toBe('6985');
  });

  it('accepts SELECT without Le, rejects bad P1/P2 and inconsistent Lc', () => {
    const { responder } = phone();
    expect(swOf(responder.respond(hex('00a4040007f0515250415901')))).toBe('9000');
    expect(swOf(responder.respond(hex('00a4000007f051525041590100')))).toBe('6a86');
    expect(swOf(responder.respond(hex('00a4040009f051525041590100')))).toBe('6700'); // Lc 9, 8 bytes follow
    expect(swOf(responder.respond(hex('00a4040000')))).toBe('6700');
  });

  it('a broken random source gives 6F00, not a short nonce', () => {
    const responder = createHceResponder({ randomBytes: () => new Uint8Array(3), onAnswer: () => true });
    expect(toHex(responder.respond(buildSelect()))).toBe('6f00');
  });
});

describe('HCE responder: PUT ANSWER', () => {
  it('reassembles a chained answer and calls onAnswer once with the SELECT nonce', () => {
    const { responder, onAnswer } = phone();
    const nonce = responder.respond(buildSelect()).subarray(1, 17);
    const answer = Uint8Array.from({ length: 700 }, (_, i) => (i * 7) & 0xff);
    const sws = chunkAnswer(answer, 240).map((c) => swOf(responder.respond(c)));
    expect(sws).toEqual(['9000', '9000', '9000']);
    expect(onAnswer).toHaveBeenCalledTimes(1);
    expect(toHex(onAnswer.mock.calls[0]![0])).toBe(toHex(nonce));
    expect(toHex(onAnswer.mock.calls[0]![1])).toBe(toHex(answer));
  });

  it('refusal -> 6982, a throwing callback is a refusal too', () => {
    const { responder } = phone(false);
    responder.respond(buildSelect());
    expect(swOf(responder.respond(chunkAnswer(hex('aabb'))[0]!))).toBe('6982');
    const throwing = createHceResponder({
      randomBytes: (n) => new Uint8Array(n),
      onAnswer: () => {
        throw new Error('bad signature');
      },
    });
    throwing.respond(buildSelect());
    expect(swOf(throwing.respond(chunkAnswer(hex('aabb'))[0]!))).toBe('6982');
  });

  it('one answer per SELECT: a replayed last chunk gets 6985', () => {
    const { responder, onAnswer } = phone();
    responder.respond(buildSelect());
    const [cmd] = chunkAnswer(hex('aabb'));
    expect(swOf(responder.respond(cmd!))).toBe('9000');
    expect(swOf(responder.respond(cmd!))).toBe('6985');
    expect(onAnswer).toHaveBeenCalledTimes(1);
  });

  it('PUT ANSWER before SELECT -> 6985; after reset() -> 6985', () => {
    const { responder } = phone();
    expect(swOf(responder.respond(chunkAnswer(hex('aa'))[0]!))).toBe('6985');
    responder.respond(buildSelect());
    responder.reset();
    expect(swOf(responder.respond(chunkAnswer(hex('aa'))[0]!))).toBe('6985');
  });

  it('out-of-order chunks -> 6A80 and the chain restarts at index 0', () => {
    const { responder, onAnswer } = phone();
    responder.respond(buildSelect());
    const cmds = chunkAnswer(new Uint8Array(700).fill(1), 240);
    expect(swOf(responder.respond(cmds[1]!))).toBe('6a80'); // index 1 first
    expect(swOf(responder.respond(cmds[0]!))).toBe('9000');
    expect(swOf(responder.respond(cmds[2]!))).toBe('6a80'); // skipped index 1
    expect(swOf(responder.respond(cmds[1]!))).toBe('6a80'); // chain was reset
    for (const c of cmds) expect(swOf(responder.respond(c))).toBe('9000');
    expect(onAnswer).toHaveBeenCalledTimes(1);
    expect(onAnswer.mock.calls[0]![1].length).toBe(700);
  });

  it('answers larger than maxAnswerBytes -> 6A80 without calling onAnswer', () => {
    const onAnswer = vi.fn(() => true);
    const responder = createHceResponder({ randomBytes: (n) => new Uint8Array(n), onAnswer, maxAnswerBytes: 500 });
    responder.respond(buildSelect());
    const answer = new Uint8Array(4000);
    const chained = chunkAnswer(answer, 250).map((c) => {
      const x = Uint8Array.from(c);
      x[0] = 0x90; // keep chaining forever
      return x;
    });
    expect(chained.map((c) => swOf(responder.respond(c))).slice(0, 3)).toEqual(['9000', '9000', '6a80']);
    expect(onAnswer).not.toHaveBeenCalled();
  });

  it('malformed lengths -> 6700; wrong P1 -> 6A86', () => {
    const { responder } = phone();
    responder.respond(buildSelect());
    expect(swOf(responder.respond(hex('80d00000')))).toBe('6700'); // no Lc
    expect(swOf(responder.respond(hex('80d0000000')))).toBe('6700'); // Lc 0 (extended length marker)
    expect(swOf(responder.respond(hex('80d0000005aabb')))).toBe('6700'); // Lc 5, 2 bytes
    expect(swOf(responder.respond(hex('80d0010001aa')))).toBe('6a86'); // P1 01
  });

  it('unknown CLA / INS', () => {
    const { responder } = phone();
    expect(swOf(responder.respond(hex('00b0000000')))).toBe('6d00');
    expect(swOf(responder.respond(hex('80ca000000')))).toBe('6d00');
    expect(swOf(responder.respond(hex('ff00000000')))).toBe('6e00');
  });
});

describe('HCE responder: hostile inputs', () => {
  const table: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['one byte', hex('00')],
    ['three bytes', hex('00a404')],
    ['64 KiB SELECT-looking', (() => {
      const b = new Uint8Array(65536);
      b.set(buildSelect());
      return b;
    })()],
    ['64 KiB PUT ANSWER-looking', (() => {
      const b = new Uint8Array(65536).fill(0x41);
      b.set(hex('80d00000ff'));
      return b;
    })()],
    ['bit-flipped SELECT', (() => {
      const b = buildSelect();
      b[7]! ^= 0x01;
      return b;
    })()],
  ];

  it.each(table)('%s -> a 2-byte error SW, no throw', (_name, input) => {
    const { responder, onAnswer } = phone();
    const r = responder.respond(input);
    expect(r.length).toBe(2);
    expect(swOf(r)).not.toBe('9000');
    expect(onAnswer).not.toHaveBeenCalled();
  });

  it('non-Uint8Array input -> 6700', () => {
    const { responder } = phone();
    expect(toHex(responder.respond('00a4' as unknown as Uint8Array))).toBe('6700');
  });

  it('property: random command sequences never throw and always end in a SW', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 270 }), { maxLength: 12 }), (cmds) => {
        const { responder } = phone();
        for (const c of [buildSelect(), ...cmds]) {
          const r = responder.respond(c);
          expect(r.length).toBeGreaterThanOrEqual(2);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
