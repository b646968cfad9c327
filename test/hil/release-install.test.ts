/**
 * The release end to end, as CI runs it: build the tarball (scripts/release.mjs), unpack it into a
 * temp root, run install.sh --root <tmp> --no-systemd (the host's systemd, users and apt stay
 * untouched), start the INSTALLED bundle on a socat pty as a serial scanner with a provisioned demo
 * merchant, take one payment through it and find the row in the installed journal. Then re-run the
 * installer (an upgrade): config, keys and journal survive and the journal is backed up first.
 *
 * node_modules: install.sh --node-modules-from links the repository's (already built for this
 * machine); `npm ci --omit=dev` on a box needs the registry and compiles for minutes, and
 * everything else in the installer is the same.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs script without type declarations
import { makeRelease } from '../../scripts/release.mjs';
import { BoxProcess, demoPayer, readJournal, repoRoot } from '../support/box-process.ts';
import { type PtyPair, socatAvailable, startPtyPair } from '../support/pty.ts';

const HAVE_SOCAT = socatAvailable();

function writeHost(path: string, text: string): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Buffer.from(text, 'latin1'));
  } finally {
    closeSync(fd);
  }
}

describe.runIf(HAVE_SOCAT)('release tarball -> install.sh --root --no-systemd -> one payment', () => {
  let work: string;
  let root: string;
  let pair: PtyPair;
  let box: BoxProcess | undefined;
  let release: { tarball: string; name: string; version: string };

  function install(): { status: number | null; out: string } {
    const r = spawnSync('bash', [join(work, 'unpacked', release.name, 'install.sh'), '--root', root, '--no-systemd', '--node-modules-from', join(repoRoot, 'node_modules')], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'qrpay-release-'));
    root = join(work, 'root');
    release = await makeRelease({ outDir: join(work, 'out'), quiet: true });
    const unpack = spawnSync('tar', ['-xzf', release.tarball, '-C', join(work)], { encoding: 'utf8' });
    expect(unpack.status, unpack.stderr).toBe(0);
    spawnSync('mkdir', ['-p', join(work, 'unpacked')]);
    spawnSync('mv', [join(work, release.name), join(work, 'unpacked', release.name)]);
  }, 120_000);

  afterAll(async () => {
    await box?.stop();
    await pair?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships the bundle, trimmed manifests, units, example config and installer', () => {
    const list = spawnSync('tar', ['-tzf', release.tarball], { encoding: 'utf8' }).stdout.split('\n');
    for (const f of ['dist/scanner.mjs', 'package.json', 'package-lock.json', 'install.sh', 'config/pi.example.json', 'systemd/qrpay-scanner.service', 'native/sdnotify/sdnotify.c']) {
      expect(list).toContain(`${release.name}/${f}`);
    }
    expect(list.some((f) => f.includes('native/sdnotify/build/'))).toBe(false);
    const pkg = JSON.parse(readFileSync(join(work, 'unpacked', release.name, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg['devDependencies']).toBeUndefined();
    const lock = JSON.parse(readFileSync(join(work, 'unpacked', release.name, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    expect(Object.values(lock.packages).some((e) => e.dev === true)).toBe(false);
    expect(lock.packages['node_modules/vitest']).toBeUndefined();
    expect(lock.packages['node_modules/better-sqlite3']).toBeDefined();
    expect(readFileSync(join(work, 'unpacked', release.name, 'dist/scanner.mjs'), 'utf8').slice(0, 200)).toContain('createRequire');
  });

  it('installs into the temp root and takes a payment with the installed bundle over a pty', async () => {
    const r = install();
    expect(r.status, r.out).toBe(0);
    for (const f of ['opt/qrpay/dist/scanner.mjs', 'etc/qrpay/config.json', 'etc/systemd/system/qrpay-scanner.service', 'etc/udev/rules.d/99-qrpay.rules', 'usr/local/bin/scanner']) {
      expect(existsSync(join(root, f)), f).toBe(true);
    }
    // The technician's config for this test box: the pty as serial scanner, the demo merchant provisioned.
    pair = await startPtyPair(join(work, 'scanner'), join(work, 'host'));
    const demoDir = join(root, 'var/lib/qrpay-demo');
    const cfgPath = join(root, 'etc/qrpay/config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    Object.assign(cfg, {
      demo: { dir: demoDir, merchantId: 'REL-CAFE', displayName: 'Release Café' },
      amount: { mode: 'fixed', price: '1.00' },
      scanner: { kind: 'serial', path: join(work, 'scanner'), baudRate: 115200, delimiter: '\r' },
      indicator: { kind: 'console' },
      nfc: undefined,
      allowVolatileState: true,
    });
    writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
    // BoxProcess runs `<wrapper> node dist/scanner.mjs run --config <cfg>`; the wrapper swaps in the INSTALLED bundle.
    const installed = join(root, 'opt/qrpay/dist/scanner.mjs');
    box = await BoxProcess.start(cfgPath, { wrapper: ['sh', '-c', `"$0" ${JSON.stringify(installed)} run --config "$4"`], readyTimeoutMs: 45_000 });
    const payer = demoPayer(join(demoDir, 'wallet.json'), join(demoDir, 'merchant-card.txt'));
    const { text, counter } = payer.pay(100);
    const from = box.logs.length;
    writeHost(join(work, 'host'), `${text}\r`);
    const verdict = await box.waitFor((l) => l.event === 'scan.accept' || l.event === 'scan.decline', 20_000, from, 'scan verdict');
    expect(verdict.event, box.tail()).toBe('scan.accept');
    const j = readJournal(join(root, 'var/lib/qrpay/journal.db'));
    expect(j.debits).toEqual([expect.objectContaining({ walletKey: payer.walletKey, counter, amount: 100, state: 'pending' })]);
    await box.stop();
    box = undefined;
  }, 120_000);

  it('re-running the installer upgrades in place: keeps config, keys and journal, backs the journal up', () => {
    const cfgBefore = readFileSync(join(root, 'etc/qrpay/config.json'), 'utf8');
    const keyBefore = readFileSync(join(root, 'var/lib/qrpay/keys/identity.x25519'));
    const r = install();
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain('keeping');
    expect(readFileSync(join(root, 'etc/qrpay/config.json'), 'utf8')).toBe(cfgBefore);
    expect(readFileSync(join(root, 'var/lib/qrpay/keys/identity.x25519'))).toEqual(keyBefore);
    expect(readJournal(join(root, 'var/lib/qrpay/journal.db')).debits).toHaveLength(1);
    const backups = readdirSync(join(root, 'var/lib/qrpay/backup'));
    expect(backups).toHaveLength(1);
    const backup = readJournal(join(root, 'var/lib/qrpay/backup', backups[0]!, 'journal.db'));
    expect(backup.debits).toHaveLength(1);
    expect(backup.integrity).toBe('ok');
    expect(existsSync(join(root, 'opt/qrpay.prev/dist/scanner.mjs'))).toBe(true);
  }, 120_000);
});
