#!/usr/bin/env bash
# Proves the README's two commands work on their first run on a fresh machine.
#
# It puts this machine back to how a fresh one of its kind is: it REMOVES the
# Debian packages setup installs (scripts/toolchain.mjs DEBIAN_PACKAGES, with
# what they pulled in), npm's cache, cargo's downloaded crates and node-gyp's
# headers. Then it clones the committed project into a new folder, runs
# `npm start` until GET /health answers, stops it, and runs `npm test`.
#
#   sudo scripts/fresh-machine-check.sh --yes [--keep]
#
# --yes is required (it uninstalls packages). --keep leaves the clone in place.
# Needs root (apt-get), git, curl, and port 8080 free. Exit status: npm test's.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
confirmed=no keep=no
for arg in "$@"; do
  case "$arg" in
    --yes) confirmed=yes ;;
    --keep) keep=yes ;;
    *) echo "unknown option $arg (use --yes, --keep)" >&2; exit 2 ;;
  esac
done
if [ "$confirmed" != yes ]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  echo "Nothing done: pass --yes to run it." >&2
  exit 2
fi
[ "$(id -u)" = 0 ] || { echo "run it as root: it removes and reinstalls Debian packages" >&2; exit 2; }
if curl -s -o /dev/null --max-time 2 http://127.0.0.1:8080/; then
  echo "something already listens on 127.0.0.1:8080; stop it first (npm start serves there)" >&2
  exit 2
fi

say() { printf '\n[fresh-machine-check] %s\n' "$*"; }
started_at=$SECONDS
phase_start=$SECONDS
phase() { say "$1 (after $((SECONDS - phase_start)) s)"; phase_start=$SECONDS; }

# --- 1. Undo what setup installs -------------------------------------------
packages=$(node -e "import('$here/scripts/toolchain.mjs').then((m) => console.log(m.DEBIAN_PACKAGES.join(' ')))")
say "removing Debian packages: $packages (and what only they needed)"
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq --purge $packages >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get autoremove -y -qq --purge >/dev/null
for pkg in $packages; do
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    echo "$pkg is still installed" >&2; exit 1
  fi
done
if command -v clang >/dev/null || command -v clang-19 >/dev/null; then echo "a clang is still on PATH" >&2; exit 1; fi
say "removing caches: npm, cargo's crates, node-gyp headers, mcp-edge's own"
npm cache clean --force >/dev/null 2>&1
rm -rf "$HOME/.cargo/registry" "$HOME/.cargo/git" "$HOME/.cache/node-gyp" "$HOME/.cache/mcp-edge"
phase "machine reset"

# --- 2. A fresh clone ------------------------------------------------------
work=$(mktemp -d /tmp/fresh-machine-XXXXXX)
clone="$work/mcp-edge"
git clone -q "$here" "$clone"
cd "$clone"
say "cloned $(git log -1 --format='%h %s') into $clone; system node is $(node --version)"

cleanup() {
  if [ -n "${server_pid:-}" ] && kill -0 "$server_pid" 2>/dev/null; then kill -TERM -- "-$server_pid" 2>/dev/null || true; fi
  if [ "$keep" != yes ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

# --- 3. npm start until /health answers -------------------------------------
say "npm start (first run: apt, npm, cargo; logs in $work/start.log)"
export MCP_EDGE_DATA_DIR="$work/data"
setsid npm start >"$work/start.log" 2>&1 &
server_pid=$!
deadline=$((SECONDS + 2400))
until health=$(curl -sf --max-time 2 http://127.0.0.1:8080/health); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    tail -n 40 "$work/start.log"; say "npm start exited before /health answered"; exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    tail -n 40 "$work/start.log"; say "no answer from /health within 40 minutes"; exit 1
  fi
  sleep 2
done
grep '^\[mcp-edge\]' "$work/start.log" || true
say "GET /health answered: $health"
kill -TERM -- "-$server_pid"
for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$server_pid" 2>/dev/null; then say "npm start did not stop on SIGTERM"; kill -KILL -- "-$server_pid"; exit 1; fi
server_pid=
phase "npm start served /health"

# --- 4. npm test -----------------------------------------------------------
say "npm test (logs in $work/test.log)"
set +e
npm test >"$work/test.log" 2>&1
status=$?
set -e
grep '^\[mcp-edge\]' "$work/test.log" | grep -v '^\[mcp-edge\] check:' || true
[ "$status" = 0 ] || tail -n 80 "$work/test.log"
phase "npm test finished with status $status"
say "npm test printed: $(tail -n 1 "$work/test.log")"
say "total $((SECONDS - started_at)) s"
exit $status
