#!/usr/bin/env bash
# Start the project's private LXD daemon for tests and the demo, and print its
# socket path. Idempotent: installs what the tests need when missing (Debian's
# lxd, lxd-client, busybox-static and bash-static; btrfs-progs for copy-on-write storage
# pools; tinyproxy-bin, the HTTP proxy of internal/proxytest), starts the
# daemon unless it already answers (clearing a stale socket left by a dead
# one), preseeds a `dir` pool and the default profile, and imports the busybox
# test image: busybox, bash-static as /bin/bash (the runner's scripts are
# bash) and an empty libicuuc.so.72 where the stand-in runner looks for ICU
# (the real runner aborts without it). An image of an older build (without
# the `contents` property below) is replaced. Needs root. The Debian test image is scripts/debian-image.sh's.
#
#   TEST_LXD_DIR    the daemon's LXD_DIR (default /var/lib/github-runner-test-lxd)
#   TEST_LXD_IMAGE  alias of the busybox test image (default github-runner-test-busybox)
set -euo pipefail

LXD_DIR=${TEST_LXD_DIR:-/var/lib/github-runner-test-lxd}
IMAGE=${TEST_LXD_IMAGE:-github-runner-test-busybox}
export LXD_DIR
SOCKET="$LXD_DIR/unix.socket"

log() { echo "lxd-up: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
	log "must run as root (the LXD daemon needs it)"
	exit 1
fi

install_packages() {
	local missing=()
	command -v lxd >/dev/null 2>&1 || missing+=(lxd)
	command -v lxc >/dev/null 2>&1 || missing+=(lxd-client)
	local pkg
	for pkg in busybox-static bash-static btrfs-progs tinyproxy-bin; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq "${missing[@]}" >&2
}

daemon_answers() {
	[ -S "$SOCKET" ] && timeout 10 lxc query /1.0 >/dev/null 2>&1
}

start_daemon() {
	mkdir -p "$LXD_DIR"
	chmod 0711 "$LXD_DIR"
	if [ -e "$SOCKET" ]; then
		log "removing stale socket $SOCKET"
		rm -f "$SOCKET"
	fi
	# A daemon that holds the dir but no longer answers is killed first.
	if [ -f "$LXD_DIR/lxd.pid" ]; then
		old=$(cat "$LXD_DIR/lxd.pid")
		if [ -n "$old" ] && kill -0 "$old" 2>/dev/null; then
			log "stopping unresponsive daemon $old"
			kill -9 "$old" 2>/dev/null || true
		fi
		rm -f "$LXD_DIR/lxd.pid"
	fi
	log "starting LXD in $LXD_DIR"
	setsid lxd --group root --logfile "$LXD_DIR/lxd.log" </dev/null >/dev/null 2>&1 &
	echo $! >"$LXD_DIR/lxd.pid"
	if ! lxd waitready --timeout=60; then
		log "LXD did not become ready; last log lines:"
		tail -n 20 "$LXD_DIR/lxd.log" >&2 || true
		exit 1
	fi
}

preseed() {
	if lxc storage show default >/dev/null 2>&1; then
		return 0
	fi
	log "preseeding a dir storage pool and the default profile"
	lxd init --preseed <<'YAML'
storage_pools:
- name: default
  driver: dir
profiles:
- name: default
  devices:
    root: {path: /, pool: default, type: disk}
YAML
}

# IMAGE_CONTENTS names what the busybox image holds; bump it when that changes.
IMAGE_CONTENTS=busybox-bash-libicu-1

import_image() {
	local old=
	if lxc image info "$IMAGE" >/dev/null 2>&1; then
		if lxc image info "$IMAGE" | grep -q "contents: $IMAGE_CONTENTS\$"; then
			return 0
		fi
		old=$(lxc image info "$IMAGE" | sed -n 's/^Fingerprint: //p')
	fi
	log "building the busybox test image $IMAGE"
	local tmp arch
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' RETURN
	arch=$(uname -m)
	local root="$tmp/rootfs"
	mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,run,root,home/ubuntu,var/log,usr/bin,usr/sbin,opt}
	chmod 1777 "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	for applet in $(/bin/busybox --list); do
		[ "$applet" = busybox ] && continue
		[ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
	done
	ln -sf ../bin/busybox "$root/sbin/init"
	rm -f "$root/bin/bash"
	cp /bin/bash-static "$root/bin/bash"
	mkdir -p "$root/usr/lib"
	: >"$root/usr/lib/libicuuc.so.72"
	cat >"$root/etc/inittab" <<'INIT'
::sysinit:/bin/busybox ip link set lo up
::sysinit:/bin/busybox hostname -F /etc/hostname
::respawn:/bin/busybox sleep 2147483647
INIT
	echo busybox >"$root/etc/hostname"
	cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
ubuntu:x:1000:1000:ubuntu:/home/ubuntu:/bin/sh
PASSWD
	cat >"$root/etc/group" <<'GROUP'
root:x:0:
ubuntu:x:1000:
GROUP
	chown 1000:1000 "$root/home/ubuntu"
	cat >"$tmp/metadata.yaml" <<META
architecture: $arch
creation_date: $(date +%s)
properties:
  description: busybox test image for github-runner
  os: busybox
  release: test
  contents: $IMAGE_CONTENTS
META
	tar -C "$tmp" --numeric-owner -czf "$tmp/image.tar.gz" metadata.yaml rootfs
	if [ -z "$old" ]; then
		lxc image import "$tmp/image.tar.gz" --alias "$IMAGE" >&2
		return 0
	fi
	# Replace an older build: the alias moves, instances made from it stay.
	local fp
	fp=$(lxc image import "$tmp/image.tar.gz" 2>&1 | sed -n 's/.*fingerprint: *//Ip' | tail -n 1)
	lxc image alias delete "$IMAGE" >&2
	lxc image alias create "$IMAGE" "$fp" >&2
	lxc image delete "$old" >&2 || true
}

install_packages
if ! daemon_answers; then
	start_daemon
fi
preseed
import_image
echo "$SOCKET"
