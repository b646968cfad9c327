#!/usr/bin/env bash
# Installs or upgrades the QR payment scanner box from an unpacked release (qrpay-box-<version>/).
#
#   sudo ./install.sh                      install / upgrade on the box (idempotent: keeps keys, journal, config)
#   ./install.sh --root DIR --no-systemd   CI: install into DIR, never touch the host's systemd, users or apt
#
# Options:
#   --root DIR               prefix every installed path with DIR (default: /)
#   --no-systemd             do not run systemctl, systemd-sysusers, udevadm, chown or apt-get (implies --no-apt)
#   --no-apt                 skip apt-get (prerequisites already installed)
#   --node-modules-from DIR  TEST ONLY: symlink DIR as node_modules instead of `npm ci --omit=dev`
#                            (DIR must hold native addons built for this machine's arch and Node ABI)
#
# What it does, in order (docs/field-guide.md "Install the release"):
#   1. apt prerequisites: libpcsclite-dev pcscd libccid (NFC), build-essential python3 (native builds)
#   2. checks Node.js >= 20.19 (Node 20 is end of life in April 2026: install Node 22 or 24 LTS)
#   3. stages the release in /opt/qrpay.new and runs `npm ci --omit=dev` there, so native addons are
#      built on the box for its arch (arm64) and Node ABI; checks that better-sqlite3 loads
#   4. stops the service, backs up the journal (SQLite online backup + raw journal.db/-wal copy) to
#      /var/lib/qrpay/backup/, because the new version may migrate the schema on first start
#   5. swaps /opt/qrpay.new -> /opt/qrpay, keeping the previous release in /opt/qrpay.prev (rollback)
#   6. installs config (only if absent), the sysusers file, unit, journald drop-in, udev, polkit and
#      modprobe files, and /usr/local/bin/scanner; creates the qrpay user; enables the service and
#      starts it when the box is provisioned
set -euo pipefail

ROOT=""
SYSTEMD=1
APT=1
NM_FROM=""
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
    --no-systemd) SYSTEMD=0; APT=0; shift ;;
    --no-apt) APT=0; shift ;;
    --node-modules-from) NM_FROM="${2:?--node-modules-from needs a directory}"; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
ROOT="${ROOT%/}"

say() { printf '==> %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

SRC="$(cd "$(dirname "$0")" && pwd)"
[ -f "$SRC/dist/scanner.mjs" ] || die "run me from an unpacked release: $SRC/dist/scanner.mjs is missing"
if [ "$SYSTEMD" = 1 ] && [ "$(id -u)" != 0 ]; then die "run as root: sudo ./install.sh"; fi

APP="$ROOT/opt/qrpay"
ETC="$ROOT/etc/qrpay"
STATE="$ROOT/var/lib/qrpay"
BIN="$ROOT/usr/local/bin"

# ---- 1. prerequisites ----
if [ "$APT" = 1 ]; then
  say "apt prerequisites"
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q libpcsclite-dev pcscd libccid build-essential python3
fi

# ---- 2. Node.js ----
command -v node >/dev/null || die "Node.js is not installed: install Node 22 or 24 LTS (docs/field-guide.md)"
NODE_VERSION="$(node -p 'process.versions.node')"
node -e '
  const [maj, min] = process.versions.node.split(".").map(Number);
  process.exit(maj > 20 || (maj === 20 && min >= 19) ? 0 : 1);
' || die "Node.js $NODE_VERSION is too old: need >= 20.19; install Node 22 or 24 LTS"
case "$NODE_VERSION" in
  20.*) echo "warning: Node 20 reaches end of life in April 2026; move this box to Node 22 or 24 LTS" >&2 ;;
esac
NODE_BIN="$(command -v node)"
if [ "$SYSTEMD" = 1 ] && [ "$NODE_BIN" != /usr/bin/node ]; then
  echo "warning: node is $NODE_BIN but the unit runs /usr/bin/node; install Node system-wide (NodeSource .deb)" >&2
fi

NEW_VERSION="$(cut -d' ' -f1 "$SRC/VERSION" 2>/dev/null || node -p "require('$SRC/package.json').version")"
OLD_VERSION="$(cut -d' ' -f1 "$APP/VERSION" 2>/dev/null || echo none)"
say "installing qrpay-box $NEW_VERSION (installed: $OLD_VERSION) into ${ROOT:-/}"

# ---- 3. stage and build dependencies ----
mkdir -p "$ROOT/opt"
rm -rf "$APP.new"
mkdir -p "$APP.new"
for f in dist package.json package-lock.json native systemd config docs install.sh VERSION; do
  [ -e "$SRC/$f" ] && cp -a "$SRC/$f" "$APP.new/"
done
if [ -n "$NM_FROM" ]; then
  say "node_modules: symlink to $NM_FROM (test mode)"
  ln -s "$(cd "$NM_FROM" && pwd)" "$APP.new/node_modules"
else
  say "npm ci --omit=dev (builds native addons for $(uname -m), Node $NODE_VERSION)"
  (cd "$APP.new" && npm ci --omit=dev --no-audit --no-fund)
fi
(cd "$APP.new" && node -e "new (require('better-sqlite3'))(':memory:').close()") \
  || die "better-sqlite3 does not load in $APP.new: native build failed (build-essential, python3 installed?)"

# ---- 4. stop, back up the journal ----
if [ "$SYSTEMD" = 1 ] && systemctl is-active --quiet qrpay-scanner 2>/dev/null; then
  say "stopping qrpay-scanner"
  systemctl stop qrpay-scanner
fi
if [ -f "$STATE/journal.db" ]; then
  STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
  BACKUP="$STATE/backup/$STAMP-from-$OLD_VERSION"
  say "backing up the journal to $BACKUP"
  mkdir -p "$BACKUP"
  chmod 700 "$STATE/backup" "$BACKUP"
  # Raw copy first (the service is stopped, so journal.db + -wal are consistent together) ...
  for f in journal.db journal.db-wal journal.db-shm; do
    [ -f "$STATE/$f" ] && cp -p "$STATE/$f" "$BACKUP/$f.raw"
  done
  # ... then a self-contained single-file copy through SQLite's online backup API.
  (cd "$APP.new" && node -e "
    const D = require('better-sqlite3');
    const db = new D(process.argv[1], { readonly: true, fileMustExist: true });
    db.backup(process.argv[2]).then(() => { db.close(); }, (e) => { console.error(e.message); process.exit(1); });
  " "$STATE/journal.db" "$BACKUP/journal.db") || die "journal backup failed; nothing was changed (old release still in $APP)"
  # keep the newest 5 backups
  ls -1d "$STATE"/backup/*/ 2>/dev/null | sort | head -n -5 | xargs -r rm -rf
fi

# ---- 5. swap releases ----
if [ -d "$APP" ]; then
  rm -rf "$APP.prev"
  mv "$APP" "$APP.prev"
fi
mv "$APP.new" "$APP"

# ---- 6. config, system files, wrapper ----
mkdir -p "$ETC" "$STATE"
chmod 700 "$STATE"
if [ ! -f "$ETC/config.json" ]; then
  say "config: $ETC/config.json from config/pi.example.json (edit it: scanner path, LEDs, timezone)"
  cp "$APP/config/pi.example.json" "$ETC/config.json"
  if [ -n "$ROOT" ]; then
    node -e "
      const fs = require('fs'); const f = process.argv[1]; const c = JSON.parse(fs.readFileSync(f, 'utf8'));
      c.stateDir = process.argv[2]; c.control = { socket: process.argv[2] + '/control.sock' };
      fs.writeFileSync(f, JSON.stringify(c, null, 2) + '\n');
    " "$ETC/config.json" "$STATE"
  fi
  chmod 640 "$ETC/config.json"
else
  say "config: keeping $ETC/config.json"
fi

install -D -m 644 "$APP/systemd/qrpay-scanner.service" "$ROOT/etc/systemd/system/qrpay-scanner.service"
install -D -m 644 "$APP/systemd/journald-qrpay.conf" "$ROOT/etc/systemd/journald.conf.d/qrpay.conf"
install -D -m 644 "$APP/systemd/qrpay.sysusers.conf" "$ROOT/etc/sysusers.d/qrpay.conf"
install -D -m 644 "$APP/systemd/99-qrpay.rules" "$ROOT/etc/udev/rules.d/99-qrpay.rules"
install -D -m 644 "$APP/systemd/50-qrpay-pcscd.rules" "$ROOT/etc/polkit-1/rules.d/50-qrpay-pcscd.rules"
install -D -m 644 "$APP/systemd/blacklist-qrpay-nfc.conf" "$ROOT/etc/modprobe.d/blacklist-qrpay-nfc.conf"
mkdir -p "$BIN"
cat > "$BIN/scanner" <<WRAPPER
#!/bin/sh
# qrpay-box $NEW_VERSION: scanner status | selftest | provision | journal export (see --help)
: "\${QRPAY_CONFIG:=/etc/qrpay/config.json}"
export QRPAY_CONFIG
exec node /opt/qrpay/dist/scanner.mjs "\$@"
WRAPPER
if [ -n "$ROOT" ]; then
  sed -i "s|/etc/qrpay/config.json|$ETC/config.json|; s|/opt/qrpay/dist|$APP/dist|" "$BIN/scanner"
fi
chmod 755 "$BIN/scanner"

if [ "$SYSTEMD" = 0 ]; then
  say "done (--no-systemd: no user, no systemctl). Run: $BIN/scanner selftest"
  exit 0
fi

say "user qrpay (systemd-sysusers), ownership"
systemd-sysusers /etc/sysusers.d/qrpay.conf
chown -R qrpay:qrpay "$STATE"
chown root:qrpay "$ETC/config.json"
say "systemd, udev, journald"
systemctl daemon-reload
udevadm control --reload
udevadm trigger --action=add --subsystem-match=tty --subsystem-match=leds --subsystem-match=gpio || true
systemctl restart systemd-journald
systemctl enable qrpay-scanner
if [ -f "$STATE/public/enrolment.json" ]; then
  systemctl restart qrpay-scanner
  say "qrpay-scanner restarted; check: scanner selftest"
else
  # Not started: an unprovisioned box would fail every start and, through StartLimitAction=reboot, reboot.
  say "not provisioned yet: run 'sudo -u qrpay scanner provision ...', then 'systemctl start qrpay-scanner'"
fi
say "previous release kept in $APP.prev (rollback: docs/field-guide.md)"
