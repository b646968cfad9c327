/**
 * The local control socket: a unix stream socket in the state directory (mode 0660), one JSON
 * request per line, one JSON response per line, in order. Only local users in the service's group
 * reach it; it carries no secrets (status, self-test results, masked wallet keys).
 *
 *   -> {"cmd":"status"}
 *   <- {"ok":true,"result":{...StatusReport}}
 *   -> {"cmd":"selftest"}
 *   <- {"ok":true,"result":{...SelftestReport}}
 *   -> {"cmd":"pattern","pattern":"accepted"}     shows one indicator pattern (field check of a LED)
 *   <- {"ok":false,"error":{"code":"CONTROL_BAD_REQUEST","message":"..."}}
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { ALL_PATTERNS } from '../../../drivers/indicator/types.ts';

export const ControlRequestSchema = z.discriminatedUnion('cmd', [
  z.object({ cmd: z.literal('status') }).strict(),
  z.object({ cmd: z.literal('selftest') }).strict(),
  z.object({ cmd: z.literal('pattern'), pattern: z.enum(ALL_PATTERNS as [string, ...string[]]) }).strict(),
]);
export type ControlRequest = z.infer<typeof ControlRequestSchema>;

export type ControlResponse = { ok: true; result: unknown } | { ok: false; error: { code: string; message: string } };

/** Longest request line the server reads before it hangs up (requests are tiny). */
export const MAX_REQUEST_BYTES = 4096;

export const CONTROL_SOCKET_NAME = 'control.sock';

/** config.control.socket, else `<stateDir>/control.sock`. */
export function controlSocketPath(cfg: { stateDir: string; control: { socket?: string | undefined } }): string {
  return resolve(cfg.control.socket ?? resolve(cfg.stateDir, CONTROL_SOCKET_NAME));
}
