/**
 * A file-based key authority and issuer for the command-line tools and the embedded demo.
 * Secrets live in files of mode 0600 inside a directory of mode 0700.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CryptoProvider, Ed25519Signer } from '../../device/core/crypto/provider.ts';
import { fromHex, toHex } from '../../device/core/encoding/bytes.ts';
import { BoxError } from '../../device/core/errors.ts';
import { cardFromText, cardToText } from '../../device/core/protocol/card.ts';
import type { Credential } from '../../device/core/protocol/credential.ts';
import { keyId } from '../../device/core/protocol/labels.ts';
import { wrapMerchantKey } from '../../device/core/protocol/merchant-key.ts';
import type { EnrolmentBundle, EnrolmentRequest } from './enrolment.ts';
import { issueCard, issueCredential } from './issue.ts';

interface SecretFile {
  seed: string;
  publicKey: string;
  keyId: string;
}

interface MerchantFile {
  merchantId: string;
  /** Merchant-level X25519 secrets, current first. */
  keys: { secret: string; keyId: string }[];
  cards: string[];
  nextTill: number;
}

interface StateFile {
  nextSerial: number;
}

function writePrivate(path: string, value: unknown): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

function readJson<T>(path: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (e) {
    throw new BoxError('AUTHORITY_FILE', `authority: cannot read ${path}: ${(e as Error).message.split('\n')[0]}`);
  }
}

export class FileAuthority {
  private constructor(
    private readonly p: CryptoProvider,
    private readonly dir: string,
    readonly authority: Ed25519Signer,
    readonly issuer: Ed25519Signer,
  ) {}

  static exists(dir: string): boolean {
    return existsSync(join(dir, 'authority.json'));
  }

  /** Creates the authority and issuer keys (refuses to overwrite). */
  static init(p: CryptoProvider, dir: string): FileAuthority {
    if (FileAuthority.exists(dir)) throw new BoxError('AUTHORITY_EXISTS', `authority.init: ${dir} already holds keys`);
    mkdirSync(join(dir, 'merchants'), { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    for (const name of ['authority', 'issuer']) {
      const seed = p.randomBytes(32);
      const pub = p.ed25519Signer(seed).publicKey;
      writePrivate(join(dir, `${name}.json`), { seed: toHex(seed), publicKey: toHex(pub), keyId: toHex(keyId(p, pub)) } satisfies SecretFile);
    }
    writePrivate(join(dir, 'state.json'), { nextSerial: 1000 } satisfies StateFile);
    return FileAuthority.open(p, dir);
  }

  static open(p: CryptoProvider, dir: string): FileAuthority {
    const signer = (name: string) => p.ed25519Signer(fromHex(readJson<SecretFile>(join(dir, `${name}.json`)).seed));
    return new FileAuthority(p, dir, signer('authority'), signer('issuer'));
  }

  publicEntries(): { authorities: { keyId: string; publicKey: string }[]; issuers: { keyId: string; publicKey: string }[] } {
    const entry = (s: Ed25519Signer) => ({ keyId: toHex(keyId(this.p, s.publicKey)), publicKey: toHex(s.publicKey) });
    return { authorities: [entry(this.authority)], issuers: [entry(this.issuer)] };
  }

  private nextSerial(): number {
    const path = join(this.dir, 'state.json');
    const s = readJson<StateFile>(path);
    writePrivate(path, { nextSerial: s.nextSerial + 1 } satisfies StateFile);
    return s.nextSerial;
  }

  private merchant(merchantId: string): MerchantFile {
    const path = join(this.dir, 'merchants', `${merchantId}.json`);
    if (existsSync(path)) return readJson<MerchantFile>(path);
    const secret = this.p.randomBytes(32);
    const pub = this.p.x25519PrivateKey(secret).publicKey;
    return { merchantId, keys: [{ secret: toHex(secret), keyId: toHex(keyId(this.p, pub)) }], cards: [], nextTill: 1 };
  }

  /**
   * Signs a card for the box and wraps the merchant key to its identity key (the multi-till rule:
   * every till of a merchant holds the merchant key; each has its own card and device key).
   */
  enrol(req: EnrolmentRequest, nowSec: number, validityDays = 365): EnrolmentBundle {
    const m = this.merchant(req.merchantId);
    const current = m.keys[0]!;
    const serial = this.nextSerial();
    const card = issueCard(this.p, this.authority, {
      serial,
      tillId: m.nextTill,
      merchantId: req.merchantId,
      displayName: req.displayName,
      currency: req.currency,
      currencyExponent: req.currencyExponent,
      encPublicKey: this.p.x25519PrivateKey(fromHex(current.secret)).publicKey,
      devicePublicKey: fromHex(req.devicePublicKey),
      notBeforeSec: nowSec - 3600,
      notAfterSec: nowSec + validityDays * 86400,
      ...(req.location ? { location: req.location } : {}),
    });
    m.nextTill++;
    m.cards = [...m.cards.filter((t) => (cardFromText(t)?.notAfter ?? 0) > nowSec), cardToText(card)];
    writePrivate(join(this.dir, 'merchants', `${req.merchantId}.json`), m);
    return {
      version: 1,
      merchantId: req.merchantId,
      ownCardSerial: serial,
      cards: m.cards,
      merchantKeys: m.keys.slice(0, 2).map((k) => ({
        keyId: k.keyId,
        package: toHex(wrapMerchantKey(this.p, fromHex(req.identityPublicKey), req.merchantId, fromHex(k.secret))),
      })),
      ...this.publicEntries(),
    };
  }

  issueCredential(walletPublicKey: Uint8Array, currency: string, offlineLimit: number, notAfterSec: number): Credential {
    return issueCredential(this.p, this.issuer, {
      walletPublicKey,
      accountToken: this.p.randomBytes(16),
      currency,
      offlineLimit,
      notAfterSec,
    });
  }
}
