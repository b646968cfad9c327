/**
 * The deployment files next to the unit: sysusers (run through the real systemd-sysusers in a
 * scratch root), the polkit rule (evaluated with a stand-in `polkit` object), the udev rules
 * (syntax of every line plus the keys the drivers rely on; `udevadm verify` as well where the
 * installed systemd has it), the modprobe blacklist, the journald drop-in and the LED overlay.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (name: string) => readFileSync(path.join(repoRoot, 'systemd', name), 'utf8');
const contentLines = (text: string, comment = '#') =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith(comment));

describe('systemd/qrpay.sysusers.conf', () => {
  it('creates the qrpay system user with no login, in dialout and gpio', (ctx) => {
    if (spawnSync('systemd-sysusers', ['--help']).status !== 0) return ctx.skip('systemd-sysusers is not installed');
    const root = mkdtempSync(path.join(tmpdir(), 'qrpay-sysusers-'));
    try {
      mkdirSync(path.join(root, 'etc'));
      writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
      writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\ndialout:x:20:\n');
      writeFileSync(path.join(root, 'etc/shadow'), '');
      writeFileSync(path.join(root, 'etc/gshadow'), '');
      const r = spawnSync('systemd-sysusers', [`--root=${root}`, path.join(repoRoot, 'systemd/qrpay.sysusers.conf')], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      const passwd = readFileSync(path.join(root, 'etc/passwd'), 'utf8');
      const group = readFileSync(path.join(root, 'etc/group'), 'utf8');
      const user = passwd.split('\n').find((l) => l.startsWith('qrpay:'))?.split(':');
      expect(user?.[5]).toBe('/var/lib/qrpay');
      expect(user?.[6]).toBe('/usr/sbin/nologin');
      expect(Number(user?.[2])).toBeLessThan(1000); // a system uid
      expect(group).toMatch(/^dialout:x:20:qrpay$/m);
      expect(group).toMatch(/^gpio:x:\d+:qrpay$/m);
      expect(group).toMatch(/^qrpay:x:\d+:$/m);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('systemd/50-qrpay-pcscd.rules (polkit)', () => {
  const Result = { YES: 'yes', NO: 'no', NOT_HANDLED: null };
  const rules: Array<(action: { id: string }, subject: { user: string }) => unknown> = [];
  vm.runInNewContext(read('50-qrpay-pcscd.rules'), { polkit: { Result, addRule: (f: (typeof rules)[number]) => rules.push(f) } });

  it.each([
    ['org.debian.pcsc-lite.access_pcsc', 'qrpay', 'yes'],
    ['org.debian.pcsc-lite.access_card', 'qrpay', 'yes'],
    ['org.debian.pcsc-lite.access_pcsc', 'pi', null],
    ['org.freedesktop.login1.reboot', 'qrpay', null],
  ])('%s for %s -> %s', (id, user, expected) => {
    expect(rules).toHaveLength(1);
    expect(rules[0]?.({ id }, { user })).toBe(expected);
  });
});

describe('systemd/99-qrpay.rules (udev)', () => {
  const text = read('99-qrpay.rules');
  const TOKEN = /^([A-Z_]+)(\{[A-Za-z0-9_]+\})?(==|!=|\+=|:=|-=|=)"([^"]*)"$/;

  it('every rule line is a comma-separated list of KEY{attr}op"value" tokens with a match and an action', () => {
    for (const line of contentLines(text)) {
      const tokens = line.split(/,\s*/).map((t) => TOKEN.exec(t));
      expect(tokens.every((t) => t !== null), line).toBe(true);
      expect(tokens.some((t) => t?.[3] === '==' || t?.[3] === '!='), line).toBe(true);
      expect(tokens.some((t) => t?.[3] === '=' || t?.[3] === '+='), line).toBe(true);
    }
  });

  it('passes `udevadm verify` where available (systemd >= 253)', (ctx) => {
    const probe = spawnSync('udevadm', ['verify', '--help'], { encoding: 'utf8' });
    if (probe.status !== 0) return ctx.skip('udevadm verify is not available (needs systemd >= 253)');
    const r = spawnSync('udevadm', ['verify', path.join(repoRoot, 'systemd/99-qrpay.rules')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  it('links the scanner and the modem AT port by USB identity and keeps ModemManager off that port', () => {
    const active = contentLines(text);
    const scanner = active.filter((l) => l.includes('SYMLINK+="qrscanner"'));
    expect(scanner).toHaveLength(1);
    expect(scanner[0]).toContain('ATTRS{idVendor}=="1a86", ATTRS{idProduct}=="7523"');
    const modem = active.filter((l) => l.includes('SYMLINK+="lte-at"'));
    expect(modem).toHaveLength(1);
    expect(modem[0]).toContain('ATTRS{idVendor}=="2c7c", ATTRS{idProduct}=="0125"');
    expect(modem[0]).toContain('ENV{ID_USB_INTERFACE_NUM}=="02"');
    expect(modem[0]).toContain('ENV{ID_MM_PORT_IGNORE}="1"');
  });
});

describe('systemd/blacklist-qrpay-nfc.conf', () => {
  it('blacklists and blocks pn533_usb, pn533 and nfc', () => {
    const lines = contentLines(read('blacklist-qrpay-nfc.conf'));
    for (const m of ['pn533_usb', 'pn533', 'nfc']) {
      expect(lines).toContain(`blacklist ${m}`);
      expect(lines).toContain(`install ${m} /bin/false`);
    }
  });
});

describe('systemd/journald-qrpay.conf', () => {
  it('bounds the journal by size and age in a [Journal] section with known keys', () => {
    const lines = contentLines(read('journald-qrpay.conf'));
    expect(lines[0]).toBe('[Journal]');
    const kv = new Map(lines.slice(1).map((l) => l.split('=', 2) as [string, string]));
    const known = new Set([
      'Storage', 'Compress', 'SystemMaxUse', 'SystemKeepFree', 'SystemMaxFileSize', 'RuntimeMaxUse',
      'RuntimeMaxFileSize', 'MaxRetentionSec', 'MaxFileSec', 'SyncIntervalSec', 'RateLimitIntervalSec',
      'RateLimitBurst', 'ForwardToSyslog', 'ForwardToWall',
    ]);
    for (const k of kv.keys()) expect(known.has(k), k).toBe(true);
    expect(kv.get('SystemMaxUse')).toBe('64M');
    expect(kv.get('Storage')).toBe('persistent');
    expect(kv.get('RuntimeMaxUse')).toMatch(/^\d+M$/);
    expect(kv.get('MaxRetentionSec')).toBeDefined();
  });
});

describe('systemd/qrpay-leds-overlay.txt', () => {
  it('declares the three LEDs and the active buzzer as gpio-led labels the udev rule matches', () => {
    const overlays = contentLines(read('qrpay-leds-overlay.txt')).filter((l) => l.startsWith('dtoverlay=gpio-led,'));
    const byLabel = new Map(overlays.map((l) => [/label=([^,]+)/.exec(l)?.[1], Number(/gpio=(\d+)/.exec(l)?.[1])]));
    expect([...byLabel.keys()].sort()).toEqual(['qrpay-amber', 'qrpay-buzzer', 'qrpay-green', 'qrpay-red']);
    const pins = [...byLabel.values()];
    expect(new Set(pins).size).toBe(4);
    // Clear of UART 14/15, I2C 2/3, SPI0 7-11 and PWM 18/19.
    for (const p of pins) expect([2, 3, 7, 8, 9, 10, 11, 14, 15, 18, 19]).not.toContain(p);
    expect(read('99-qrpay.rules')).toContain('SUBSYSTEM=="leds", KERNEL=="qrpay-*"');
  });
});
