#!/usr/bin/env bash
# Installs the peers bench/gateway measures mcp-edge against, into a user
# cache folder (never at test time): mcp-proxy (npm) and IBM's ContextForge
# gateway (PyPI mcp-contextforge-gateway, in a venv). supergateway comes with
# the project's dev dependencies. MCP_EDGE_BENCH_PEERS moves the folder.
set -euo pipefail
PEERS="${MCP_EDGE_BENCH_PEERS:-$HOME/.cache/mcp-edge-bench}"
mkdir -p "$PEERS/npm"
(cd "$PEERS/npm" && npm install --no-audit --no-fund --silent mcp-proxy@6)
if [ ! -x "$PEERS/contextforge/bin/mcpgateway" ]; then
  python3 -m venv "$PEERS/contextforge"
  "$PEERS/contextforge/bin/pip" install --quiet mcp-contextforge-gateway
fi
echo "peers installed in $PEERS"
