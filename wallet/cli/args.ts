/**
 * Positional-argument checks for the wallet CLI. `--send` is a flag and takes no value, so
 * `wallet pay 4.20 --send 127.0.0.1:7411` would otherwise leave the address as a stray positional
 * and send to the default 127.0.0.1:7410: a different box, or nothing listening.
 */

/** How many positionals each command takes, the command itself included. */
const POSITIONALS: Readonly<Record<string, number>> = { pay: 2, show: 1, tap: 1, locate: 1 };

/** Returns a message naming the first stray positional, or undefined when the command line is fine. */
export function strayPositionalError(positionals: readonly string[]): string | undefined {
  const [cmd] = positionals;
  if (cmd === undefined) return undefined;
  const expected = POSITIONALS[cmd];
  if (expected === undefined) return undefined; // unknown command: the caller prints the usage
  const stray = positionals[expected];
  if (stray === undefined) return undefined;
  const hint = /^[\w.-]*:\d+$/.test(stray) || /^\d+$/.test(stray) ? ': --send takes no value, give the scanner address as --to host:port' : '';
  return `wallet ${cmd}: unexpected argument ${JSON.stringify(stray)}${hint}`;
}
