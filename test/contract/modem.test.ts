import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AtModem } from '../../drivers/modem/at-modem.ts';
import { FakeConnectivity } from '../../drivers/modem/fake.ts';
import { startAtModemSim } from '../support/at-modem-sim.ts';
import { connectivityContract } from './modem.contract.ts';

function hasSocat(): boolean {
  try {
    execFileSync('socat', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

connectivityContract('FakeConnectivity', async () => {
  const conn = new FakeConnectivity();
  return {
    conn,
    source: 'fake',
    setUp: (up) => conn.setUp(up),
    setNetworkTime: (ms) => conn.setNetworkTime(ms),
  };
});

/** GMT ms -> the body of +QLTS ("yyyy/MM/dd,hh:mm:ss+32,0"; AT+QLTS=1 answers GMT). */
function qltsBody(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-11-25T10:00:00.000Z
  return `${iso.slice(0, 10).replaceAll('-', '/')},${iso.slice(11, 19)}+32,0`;
}

connectivityContract(
  'AtModem on the socat pty simulator',
  hasSocat()
    ? async () => {
        const dir = mkdtempSync(join(tmpdir(), 'modem-contract-'));
        const sim = await startAtModemSim({ dir });
        const conn = new AtModem({ path: sim.path, commandTimeoutMs: 2000 });
        return {
          conn,
          source: 'at',
          setUp: (up) => sim.set({ stat: up ? 1 : 2 }),
          setNetworkTime: (ms) => sim.set({ qlts: ms === undefined ? null : qltsBody(ms) }),
          async teardown() {
            await sim.stop();
            rmSync(dir, { recursive: true, force: true });
          },
        };
      }
    : undefined,
  'needs socat on PATH (apt install socat)',
);
