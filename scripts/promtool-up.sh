#!/usr/bin/env bash
# Install promtool, which the alert rule tests (go test ./cos) run, and the
# prometheus binary, which the end-to-end metrics test runs on 127.0.0.1
# with a configuration of its own, from Debian's prometheus package, unless
# both are already on PATH. The package's own Prometheus service is not
# wanted: where systemd runs it, it is stopped and disabled again. Idempotent; needs root to install.
set -euo pipefail

log() { echo "promtool-up: $*" >&2; }

if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	log "promtool is missing and installing it needs root (apt-get install prometheus)"
	exit 1
fi
log "installing Debian's prometheus package for promtool"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends prometheus >&2
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
command -v promtool >/dev/null 2>&1 || { log "prometheus installed but promtool is not on PATH"; exit 1; }
command -v prometheus >/dev/null 2>&1 || { log "prometheus installed but the prometheus binary is not on PATH"; exit 1; }
