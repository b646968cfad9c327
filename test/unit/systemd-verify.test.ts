/**
 * The service unit is checked by systemd itself (`systemd-analyze verify` parses every directive
 * and checks that ExecStart's binary is executable; `security --offline` scores the sandbox) and
 * the hardening decisions that matter for this box are asserted line by line, so a later edit that
 * drops one fails here with the reason.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const unitText = readFileSync(path.join(repoRoot, 'systemd/qrpay-scanner.service'), 'utf8');
const UNIT = 'qrpay-scanner.service';

const hasAnalyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).status === 0;

/** Directive values in file order, comments and blank lines dropped. */
function directives(text: string, key: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

describe('systemd/qrpay-scanner.service', () => {
  let work = '';
  let unitPath = '';

  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), 'qrpay-unit-'));
    unitPath = path.join(work, UNIT);
    // verify requires ExecStart's binary to be executable; on a machine whose node is not at
    // /usr/bin/node (nvm, CI images) point the temp copy at this node instead.
    const text = isExecutable('/usr/bin/node') ? unitText : unitText.replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `);
    writeFileSync(unitPath, text);
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('passes `systemd-analyze verify` with no warning about the unit', (ctx) => {
    if (!hasAnalyze) return ctx.skip('systemd-analyze is not installed (Debian: apt install systemd)');
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', unitPath], { cwd: work, encoding: 'utf8' });
    // Unknown keys and bad values are warnings ("..., ignoring.") with exit status 0, so stderr
    // must hold nothing about our file either.
    const aboutUs = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes(UNIT));
    expect(aboutUs).toEqual([]);
    expect(r.status).toBe(0);
  });

  it('verify really checks: a typo and a missing binary are reported', (ctx) => {
    if (!hasAnalyze) return ctx.skip('systemd-analyze is not installed');
    const bad = path.join(work, 'qrpay-bad.service');
    writeFileSync(bad, unitText.replace('WatchdogSec=30', 'WachdogSec=30').replace(/ExecStart=\S+/, 'ExecStart=/nonexistent/node'));
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', bad], { cwd: work, encoding: 'utf8' });
    expect(r.stderr).toContain("Unknown key 'WachdogSec'");
    expect(r.stderr).toContain('/nonexistent/node is not executable');
    expect(r.status).not.toBe(0);
  });

  it('scores an exposure level of at most 3.0 in `systemd-analyze security --offline`', (ctx) => {
    if (!hasAnalyze) return ctx.skip('systemd-analyze is not installed');
    const probe = spawnSync('systemd-analyze', ['security', '--help'], { encoding: 'utf8' });
    if (!probe.stdout.includes('--offline')) return ctx.skip('this systemd-analyze has no security --offline (needs systemd >= 250)');
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--threshold=30', '--no-pager', unitPath], {
      cwd: work,
      encoding: 'utf8',
    });
    expect(r.stdout).toMatch(/Overall exposure level for qrpay-scanner\.service: (?:[0-2]\.\d|3\.0) /);
    expect(r.status).toBe(0);
  });

  it('is a notify service whose watchdog only the main process may feed', () => {
    expect(directives(unitText, 'Type')).toEqual(['notify']);
    expect(directives(unitText, 'NotifyAccess')).toEqual(['main']);
    const watchdogSec = Number(directives(unitText, 'WatchdogSec')[0]);
    expect(watchdogSec).toBeGreaterThanOrEqual(10);
    expect(directives(unitText, 'Restart')).toEqual(['always']);
    expect(directives(unitText, 'StartLimitAction')).toEqual(['reboot']);
    expect(Number(directives(unitText, 'StartLimitBurst')[0])).toBeGreaterThan(1);
    expect(directives(unitText, 'ExecStart')).toEqual(['/usr/bin/node /opt/qrpay/dist/scanner.mjs run --config /etc/qrpay/config.json']);
    // The start limit only works in [Unit] (it is ignored in [Service] since systemd 230).
    const unitSection = unitText.slice(unitText.indexOf('[Unit]'), unitText.indexOf('[Service]'));
    expect(unitSection).toMatch(/^StartLimitAction=reboot$/m);
    expect(unitSection).toMatch(/^StartLimitIntervalSec=\d+$/m);
  });

  it('allows exactly the device classes the box needs, by class not by symlink', () => {
    expect(directives(unitText, 'DevicePolicy')).toEqual(['closed']);
    expect(directives(unitText, 'DeviceAllow')).toEqual([
      'char-ttyUSB rw',
      'char-ttyACM rw',
      'char-ttyAMA rw',
      '/dev/ttyS0 rw',
      'char-gpiochip rw',
    ]);
    expect(unitText).not.toMatch(/^DeviceAllow=\/dev\/(qrscanner|lte-at)/m);
    expect(unitText).not.toMatch(/^PrivateDevices=/m);
  });

  it('keeps what pcscd, the serial ports and the LEDs need', () => {
    expect(unitText).not.toMatch(/^PrivateUsers=/m); // breaks pcscd's polkit check
    expect(directives(unitText, 'RestrictAddressFamilies')[0]?.split(/\s+/)).toEqual(['AF_UNIX', 'AF_INET', 'AF_INET6']);
    expect(directives(unitText, 'SupplementaryGroups')).toEqual(['dialout gpio']);
    expect(directives(unitText, 'User')).toEqual(['qrpay']);
    expect(directives(unitText, 'Group')).toEqual(['qrpay']);
    expect(directives(unitText, 'ProtectSystem')).toEqual(['strict']);
    const rw = directives(unitText, 'ReadWritePaths').join(' ').split(/\s+/);
    for (const p of ['-/sys/class/leds', '-/sys/class/gpio', '-/sys/class/pwm']) expect(rw).toContain(p);
    expect(directives(unitText, 'StateDirectory')).toEqual(['qrpay']);
    expect(directives(unitText, 'StateDirectoryMode')).toEqual(['0700']);
    expect(directives(unitText, 'ConfigurationDirectory')).toEqual(['qrpay']);
    for (const key of ['NoNewPrivileges', 'ProtectHome', 'PrivateTmp']) expect(directives(unitText, key)).toEqual(['yes']);
    expect(unitText).not.toMatch(/^MemoryDenyWriteExecute=/m); // V8 JIT
    expect(directives(unitText, 'MemoryMax')).toHaveLength(1);
    expect(directives(unitText, 'KillMode')).toEqual(['mixed']);
  });
});
