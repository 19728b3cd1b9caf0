#!/bin/sh
# Removes what install.sh installed:
#
#   sudo ./uninstall.sh           stops the service; removes the binary, the unit
#                                 and the unpacked app; keeps /etc/mcp-edge and
#                                 /var/lib/mcp-edge (the queue, pins, keys)
#   sudo ./uninstall.sh --purge   removes those too, and the mcp-edge user
#
# MCP_EDGE_ROOT works as for install.sh.
set -eu

root=${MCP_EDGE_ROOT:-}
purge=no
case "${1:-}" in
  --purge) purge=yes ;;
  "") ;;
  *) echo "uninstall.sh: unknown option $1 (use --purge or nothing)" >&2; exit 1 ;;
esac
if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then echo "uninstall.sh: run as root: sudo $0 $*" >&2; exit 1; fi

if [ -z "$root" ]; then
  systemctl disable --now mcp-edge.service 2>/dev/null || true
fi
rm -f "$root/usr/local/bin/mcp-edge" "$root/etc/systemd/system/mcp-edge.service"
rm -rf "$root/var/cache/mcp-edge"
if [ -z "$root" ]; then systemctl daemon-reload; fi

if [ "$purge" = yes ]; then
  rm -rf "$root/etc/mcp-edge" "$root/var/lib/mcp-edge"
  if [ -z "$root" ] && id mcp-edge >/dev/null 2>&1; then userdel mcp-edge; fi
  echo "uninstall.sh: removed mcp-edge, its configuration and its data"
else
  echo "uninstall.sh: removed mcp-edge; kept $root/etc/mcp-edge and $root/var/lib/mcp-edge (--purge removes them)"
fi
