import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { createLogger } from '../../device/app/logger.ts';

it('redacts keys, plaintexts, tokens and records at the logger', () => {
  const dir = mkdtempSync(join(tmpdir(), 'log-'));
  try {
    const file = join(dir, 'out.log');
    const log = createLogger('info', file);
    log.info({ seed: 'aa'.repeat(32), text: 'QP:SECRET', accountToken: 'tok', nested: { secret: 's3', privateKey: 'pk' }, debitId: 'keep' }, 'hello');
    const line = readFileSync(file, 'utf8');
    for (const s of ['aa'.repeat(32), 'QP:SECRET', '"tok"', 's3', '"pk"']) expect(line).not.toContain(s);
    expect(line).toContain('keep');
    expect(line).toContain('[redacted]');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
