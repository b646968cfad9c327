/**
 * `scanner selftest [--config f] [--json]`: over the control socket when the service runs (it
 * holds the ports), otherwise standalone. Exit 0 only when the box is fit to take payments.
 */
import type { Log } from '../../../drivers/common/log.ts';
import { isBoxError } from '../../core/errors.ts';
import type { BoxConfig } from '../config.ts';
import { controlRequest } from '../control/client.ts';
import { controlSocketPath } from '../control/protocol.ts';
import { defaultSelftestEnv, type SelftestEnv } from './selftest.ts';
import { renderSelftest, type SelftestReport } from './selftest-report.ts';
import { standaloneSelftest } from './selftest-standalone.ts';
import type { CommandIo } from './status-command.ts';

export interface SelftestCommandOptions {
  json: boolean;
  scanTimeoutMs?: number;
  env?: Partial<SelftestEnv>;
  log?: Log;
}

export async function selftestCommand(cfg: BoxConfig, opts: SelftestCommandOptions, io: CommandIo): Promise<number> {
  const path = controlSocketPath(cfg);
  let report: SelftestReport;
  try {
    report = (await controlRequest(path, { cmd: 'selftest' }, { timeoutMs: 60_000 })) as SelftestReport;
  } catch (e) {
    if (!(isBoxError(e) && e.code === 'CONTROL_NOT_RUNNING')) throw e;
    if (!opts.json) io.err('service not running: opening the hardware directly\n');
    report = await standaloneSelftest(cfg, defaultSelftestEnv(opts.env), {
      ...(opts.log ? { log: opts.log } : {}),
      ...(opts.scanTimeoutMs !== undefined ? { scanTimeoutMs: opts.scanTimeoutMs } : {}),
    });
  }
  io.out(opts.json ? `${JSON.stringify(report, null, 2)}\n` : renderSelftest(report));
  return report.fit ? 0 : 1;
}
