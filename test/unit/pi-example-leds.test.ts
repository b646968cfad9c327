import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../device/app/config.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (rel: string) => readFileSync(path.join(repoRoot, rel), 'utf8');

describe('config/pi.example.json against systemd/qrpay-leds-overlay.txt', () => {
  it('names every LED by a label the overlay creates, so /sys/class/leds/<name> exists after the overlay', () => {
    const labels = new Set(
      read('systemd/qrpay-leds-overlay.txt')
        .split('\n')
        .filter((l) => l.startsWith('dtoverlay=gpio-led,'))
        .map((l) => /label=([^,\s]+)/.exec(l)?.[1]),
    );
    const cfg = parseConfig(JSON.parse(read('config/pi.example.json')), 'pi');
    expect(cfg.indicator.kind).toBe('kernel-led');
    const leds = (cfg.indicator as { leds: Record<string, string | undefined> }).leds;
    const names = Object.values(leds).filter((n): n is string => n !== undefined);
    expect(names.length).toBe(4);
    for (const name of names) expect(labels, name).toContain(name);
  });
});
