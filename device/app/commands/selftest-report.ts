/**
 * The self-test's result shape and its readable form. A check is `fatal` when its failure makes
 * the box unfit to take payments; a failed non-fatal check (no back end, no NFC reader, no modem)
 * is a warning: the box works offline and by QR alone.
 */

export interface SelftestCheck {
  name: string;
  ok: boolean;
  fatal: boolean;
  detail: string;
  /** The hardware behind this check is a simulator (embedded default: tcp-sim scanner, console indicator). */
  simulated?: boolean;
  /** Nothing to check here (not configured, not a Pi). */
  skipped?: boolean;
}

export interface SelftestReport {
  /** True when every fatal check passed: the box may take payments. */
  fit: boolean;
  /** Who ran the checks: the running service (over the control socket) or this process. */
  mode: 'service' | 'standalone';
  atMs: number;
  checks: SelftestCheck[];
  /** Names of the checks that ran against simulated hardware. */
  simulated: string[];
}

export function summarise(checks: SelftestCheck[], mode: SelftestReport['mode'], atMs: number): SelftestReport {
  return {
    fit: checks.every((c) => c.ok || !c.fatal),
    mode,
    atMs,
    checks,
    simulated: checks.filter((c) => c.simulated).map((c) => c.name),
  };
}

/** Runs one check; a thrown error becomes a failed check naming the error, never a crash. */
export async function guarded(name: string, fatal: boolean, run: () => Promise<SelftestCheck | SelftestCheck[]> | SelftestCheck | SelftestCheck[]): Promise<SelftestCheck[]> {
  try {
    const r = await run();
    return Array.isArray(r) ? r : [r];
  } catch (e) {
    const code = (e as { code?: unknown })?.code;
    return [{ name, ok: false, fatal, detail: `${typeof code === 'string' ? `[${code}] ` : ''}${e instanceof Error ? e.message : String(e)}` }];
  }
}

export function renderSelftest(r: SelftestReport): string {
  const mark = (c: SelftestCheck) => (c.skipped ? 'SKIP' : c.ok ? (c.simulated ? 'SIM ' : 'OK  ') : c.fatal ? 'FAIL' : 'WARN');
  const width = Math.max(...r.checks.map((c) => c.name.length), 8);
  const lines = r.checks.map((c) => `${mark(c)}  ${c.name.padEnd(width)}  ${c.detail}`);
  lines.push('');
  lines.push(
    r.fit
      ? `FIT to take payments (${r.mode} self-test)${r.simulated.length ? `; simulated: ${r.simulated.join(', ')}` : ''}`
      : `NOT FIT to take payments: ${r.checks
          .filter((c) => c.fatal && !c.ok)
          .map((c) => c.name)
          .join(', ')} failed. See the troubleshooting table in docs/field-guide.md.`,
  );
  return `${lines.join('\n')}\n`;
}
