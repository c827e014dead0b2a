#!/usr/bin/env bash
# Installs edgesight as a systemd service, or removes it. Idempotent: run it again to upgrade.
#   sudo scripts/install-service.sh                  install to /opt/edgesight, enable and start
#   sudo scripts/install-service.sh --prefix DIR     install somewhere else
#   sudo scripts/install-service.sh --uninstall      stop, disable, remove the app and the unit
#   sudo scripts/install-service.sh --uninstall --purge   also /etc/edgesight, /var/lib/edgesight, the user
# Options: --no-start (install, do not start), --skip-setup (the tree is already set up),
#          --root DIR (install under DIR as a staging root: no user, no systemctl; for packaging and tests)
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"

prefix=/opt/edgesight
root=""
action=install
purge=0
start=1
setup=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift ;;
    --root) root="$(realpath -m "$2")"; shift ;;
    --uninstall) action=uninstall ;;
    --purge) purge=1 ;;
    --no-start) start=0 ;;
    --skip-setup) setup=0 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "install-service.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$prefix" in /*) ;; *) echo "install-service.sh: --prefix must be an absolute path" >&2; exit 2 ;; esac

app="$root$prefix"
etc="$root/etc/edgesight"
unit="$root/etc/systemd/system/edgesight.service"
state="$root/var/lib/edgesight"
live=0   # talk to the real systemd and create the real user only for a real install
if [ -z "$root" ]; then
  if [ "$(id -u)" != 0 ]; then echo "install-service.sh: run it as root (sudo)" >&2; exit 1; fi
  if [ -d /run/systemd/system ]; then live=1; else echo "install-service.sh: systemd is not running here: files only, no start" >&2; fi
fi
say() { echo "install-service: $*"; }

if [ "$action" = uninstall ]; then
  if [ "$live" = 1 ]; then systemctl disable --now edgesight.service 2>/dev/null || true; fi
  rm -f "$unit"
  if [ "$live" = 1 ]; then systemctl daemon-reload; fi
  rm -rf "$app"
  say "removed $app and the unit"
  if [ "$purge" = 1 ]; then
    rm -rf "$etc" "$state"
    if [ -z "$root" ] && id edgesight >/dev/null 2>&1; then userdel edgesight; fi
    say "purged $etc, $state and the user edgesight"
  else
    say "kept $etc (settings) and $state (token, models); --purge removes them"
  fi
  exit 0
fi

if [ "$setup" = 1 ]; then "$src/scripts/setup.sh"; fi
[ -f "$src/dist/src/cli/main.js" ] || { echo "install-service.sh: $src is not built (run scripts/setup.sh)" >&2; exit 1; }
node_bin="$(command -v node || true)"
case "$node_bin" in
  "") echo "install-service.sh: node is not installed" >&2; exit 1 ;;
  /root/*|/home/*) echo "install-service.sh: warning: node is at $node_bin, which the service cannot see (ProtectHome); install Node.js 20 system-wide" >&2 ;;
esac

if [ -z "$root" ] && ! id edgesight >/dev/null 2>&1; then
  useradd --system --user-group --groups video --no-create-home --home-dir "$prefix" --shell /usr/sbin/nologin edgesight
  say "created user edgesight (groups: edgesight, video)"
fi

# Copy the app next to the old one, then swap, so a failed copy leaves the old install working.
mkdir -p "$(dirname "$app")"
rm -rf "$app.new"
mkdir -p "$app.new"
tar -C "$src" --exclude=./.git --exclude=./test --exclude=./dist/test --exclude=./state --exclude=./tmp -cf - . | tar -C "$app.new" -xf -
# The service needs no test or build tools (TypeScript, mocha, playwright): leave them behind.
(cd "$app.new" && npm prune --omit=dev --no-audit --no-fund >/dev/null 2>&1) || say "warning: npm prune failed; development packages stay installed"
chmod -R go-w "$app.new"
rm -rf "$app.old"
if [ -d "$app" ]; then mv "$app" "$app.old"; fi
mv "$app.new" "$app"
rm -rf "$app.old"
say "app installed in $app"

mkdir -p "$etc"
if [ ! -f "$etc/config.json" ]; then
  cat > "$etc/config.json" <<'JSON'
{
  "source": "auto",
  "capture": { "retryAtStart": true },
  "server": { "host": "0.0.0.0", "port": 8080 }
}
JSON
  say "wrote $etc/config.json (edit it; 'edgesight config --docs' lists every key)"
fi
if [ ! -f "$etc/edgesight.env" ]; then
  cat > "$etc/edgesight.env" <<'ENV'
# EDGESIGHT_SECTION_KEY=value lines override config.json, for example:
# EDGESIGHT_DECISION_THRESHOLD=0.6
# EDGESIGHT_SERVER_AUTH=password
# EDGESIGHT_SERVER_PASSWORD=change-me-please
ENV
  say "wrote $etc/edgesight.env"
fi
chmod 0750 "$etc"
chmod 0640 "$etc/config.json" "$etc/edgesight.env"
if [ -z "$root" ]; then chgrp -R edgesight "$etc"; fi

mkdir -p "$(dirname "$unit")"
sed "s|/opt/edgesight|$prefix|g" "$src/systemd/edgesight.service" > "$unit"
say "unit installed as $unit"

if [ "$live" = 1 ]; then
  systemd-analyze verify "$unit"
  systemctl daemon-reload
  systemctl enable edgesight.service >/dev/null
  if [ "$start" = 1 ]; then
    systemctl restart edgesight.service
    say "started. The dashboard token is in /var/lib/edgesight/token; the first start's log has the address:"
    say "  journalctl -u edgesight | grep 'Open the dashboard'"
    say "sudo $prefix/bin/edgesight token (and config, doctor, rollback) use /etc/edgesight/config.json and that state directory by themselves"
  fi
fi
say "logs: journalctl -u edgesight -f"
