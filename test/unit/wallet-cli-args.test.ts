import { describe, expect, it } from 'vitest';
import { strayPositionalError } from '../../wallet/cli/args.ts';

describe('wallet CLI strayPositionalError', () => {
  it('accepts the documented command lines', () => {
    expect(strayPositionalError(['pay', '12.50'])).toBeUndefined();
    expect(strayPositionalError(['show'])).toBeUndefined();
    expect(strayPositionalError(['tap'])).toBeUndefined();
    expect(strayPositionalError(['locate'])).toBeUndefined();
    expect(strayPositionalError([])).toBeUndefined();
  });

  it('refuses an address given to --send instead of --to, naming it and the right option', () => {
    const pay = strayPositionalError(['pay', '4.20', '127.0.0.1:7411']);
    expect(pay).toContain('"127.0.0.1:7411"');
    expect(pay).toContain('--to host:port');
    expect(strayPositionalError(['locate', '127.0.0.1:7411'])).toContain('--to host:port');
    expect(strayPositionalError(['pay', '4.20', '7411'])).toContain('--to host:port');
  });

  it('refuses other stray words without the --to hint', () => {
    const msg = strayPositionalError(['show', 'extra']);
    expect(msg).toBe('wallet show: unexpected argument "extra"');
  });

  it('leaves unknown commands to the usage text', () => {
    expect(strayPositionalError(['frobnicate', 'a', 'b'])).toBeUndefined();
  });
});
