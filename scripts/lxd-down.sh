#!/usr/bin/env bash
# Stop the project's private LXD daemon started by lxd-up.sh, deleting every
# instance it still holds. Idempotent.
#
#   TEST_LXD_DIR    the daemon's LXD_DIR (default /var/lib/github-runner-test-lxd)
#   PURGE=1         also remove the whole LXD_DIR (images, pool, database)
set -euo pipefail

LXD_DIR=${TEST_LXD_DIR:-/var/lib/github-runner-test-lxd}
export LXD_DIR
SOCKET="$LXD_DIR/unix.socket"

log() { echo "lxd-down: $*" >&2; }

if [ -S "$SOCKET" ] && timeout 10 lxc query /1.0 >/dev/null 2>&1; then
	for name in $(lxc list --format csv --columns n 2>/dev/null); do
		lxc delete --force "$name" >/dev/null 2>&1 || true
	done
	log "shutting down LXD in $LXD_DIR"
	timeout 60 lxd shutdown --timeout=30 >/dev/null 2>&1 || true
fi
if [ -f "$LXD_DIR/lxd.pid" ]; then
	pid=$(cat "$LXD_DIR/lxd.pid")
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$LXD_DIR/lxd.pid"
fi
rm -f "$SOCKET"
if [ "${PURGE:-0}" = 1 ]; then
	# The dir pool may hold mounts; unmount anything below LXD_DIR first.
	{ grep -o " $LXD_DIR[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$LXD_DIR"
	log "removed $LXD_DIR"
fi
