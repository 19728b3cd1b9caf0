#!/bin/sh
# Installs the single-file mcp-edge as a systemd service:
#
#   sudo ./install.sh [path/to/mcp-edge-linux-arm64]
#
# It checks the binary against its .sha256 (when one lies beside it) and that
# it runs here, creates the system user mcp-edge, installs the binary to
# /usr/local/bin/mcp-edge, the unit to /etc/systemd/system/mcp-edge.service
# and a default /etc/mcp-edge/mcp-edge.toml (an existing one is kept), then
# enables and starts the service. Running it again upgrades the binary.
#
# MCP_EDGE_ROOT=/some/dir installs under that folder instead of / and skips
# the user and systemctl (for packaging, and for the project's own test).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
binary=${1:-$here/mcp-edge-linux-$(uname -m | sed 's/aarch64/arm64/; s/x86_64/x64/')}
root=${MCP_EDGE_ROOT:-}

fail() { echo "install.sh: $*" >&2; exit 1; }

[ -f "$binary" ] || fail "no binary at $binary: pass its path (mcp-edge-linux-arm64 from the release)"
if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then fail "run as root: sudo $0 $*"; fi
if [ -f "$binary.sha256" ]; then
  expected=$(cut -d' ' -f1 "$binary.sha256")
  actual=$(sha256sum "$binary" | cut -d' ' -f1)
  [ "$expected" = "$actual" ] || fail "$binary does not match $binary.sha256: download it again"
fi
if [ -z "$root" ]; then
  "$binary" version >/dev/null 2>&1 || fail "$binary does not run on this machine ($(uname -m)): take the build for this architecture"
fi

if [ -z "$root" ] && ! id mcp-edge >/dev/null 2>&1; then
  useradd --system --user-group --no-create-home --home-dir /var/lib/mcp-edge --shell /usr/sbin/nologin mcp-edge
fi

install -d -m 0755 "$root/usr/local/bin" "$root/etc/systemd/system" "$root/etc/mcp-edge"
install -m 0755 "$binary" "$root/usr/local/bin/mcp-edge"
install -m 0644 "$here/mcp-edge.service" "$root/etc/systemd/system/mcp-edge.service"
if [ -e "$root/etc/mcp-edge/mcp-edge.toml" ]; then
  echo "install.sh: keeping the existing $root/etc/mcp-edge/mcp-edge.toml"
else
  install -m 0644 "$here/mcp-edge.toml" "$root/etc/mcp-edge/mcp-edge.toml"
fi

if [ -z "$root" ]; then
  systemctl daemon-reload
  systemctl enable mcp-edge.service
  systemctl restart mcp-edge.service
  echo "install.sh: mcp-edge is running; status: systemctl status mcp-edge, health: curl http://127.0.0.1:8080/health"
else
  echo "install.sh: installed under $root"
fi
