/** `scanner status [--config f] [--json]`: asks the running service over its control socket. */
import { isBoxError } from '../../core/errors.ts';
import type { BoxConfig } from '../config.ts';
import { controlRequest } from '../control/client.ts';
import { controlSocketPath } from '../control/protocol.ts';
import { renderStatus, type StatusReport } from '../control/status.ts';

export interface CommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

export async function statusCommand(cfg: BoxConfig, opts: { json: boolean }, io: CommandIo): Promise<number> {
  const path = controlSocketPath(cfg);
  let report: StatusReport;
  try {
    report = (await controlRequest(path, { cmd: 'status' })) as StatusReport;
  } catch (e) {
    if (isBoxError(e) && e.code === 'CONTROL_NOT_RUNNING') {
      io.err(`scanner status: the box service is not running (no answer on ${path}).\n  Start it: sudo systemctl start qrpay-scanner\n  Why it stopped: journalctl -u qrpay-scanner -n 50\n`);
      return 3;
    }
    throw e;
  }
  io.out(opts.json ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report));
  return 0;
}
