#!/usr/bin/env bash
# Build the realistic test image, Debian bookworm with systemd, and import it
# into the project's test LXD (started by lxd-up.sh) under an alias. Prints the
# alias. Idempotent and cached: a machine builds it once.
#
# The image is `debootstrap --variant=minbase` plus systemd as init, bash,
# sudo, apt, ca-certificates, dbus and the libraries the GitHub Actions runner
# loads (libicu72, libssl3, libkrb5-3, zlib1g, liblttng-ust1), with a user
# `ubuntu` (uid 1000, home /home/ubuntu, passwordless sudo, as on Ubuntu's
# cloud images) and templates giving each instance its hostname. The package
# lists are left out: `apt-get update` inside needs a way out (a proxy).
#
# Cache: the tarball is kept in $LXD_DIR/test-images/, named after a digest
# of the recipe (suite, packages, build steps), and the image carries that digest as its
# "recipe" property. Nothing is done when the alias points at an image of the
# current recipe; a kept tarball is imported without building; a change to
# the recipe builds anew and moves the alias to the new image.
#
#   TEST_LXD_DIR           the daemon's LXD_DIR (default /var/lib/github-runner-test-lxd)
#   TEST_LXD_DEBIAN_IMAGE  alias of the image (default github-runner-test-debian)
#   DEBIAN_MIRROR          the Debian mirror (default: the one the host's apt uses)
set -euo pipefail

LXD_DIR=${TEST_LXD_DIR:-/var/lib/github-runner-test-lxd}
ALIAS=${TEST_LXD_DEBIAN_IMAGE:-github-runner-test-debian}
SUITE=bookworm
PACKAGES=systemd,systemd-sysv,bash,sudo,apt,ca-certificates,dbus,libicu72,libssl3,libkrb5-3,zlib1g,liblttng-ust1
export LXD_DIR
STATE="$LXD_DIR/test-images"

log() { echo "debian-image: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
	log "must run as root (debootstrap and the LXD daemon need it)"
	exit 1
fi
if ! timeout 10 lxc query /1.0 >/dev/null 2>&1; then
	log "the test LXD does not answer at $LXD_DIR/unix.socket; run scripts/lxd-up.sh first"
	exit 1
fi

# host_mirror prints the Debian mirror the host's apt uses for $SUITE
# (deb822 .sources files or one-line sources.list entries).
host_mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# Stanzas are separated by blank lines: print a stanza's URI when
		# its Suites name $SUITE itself (not $SUITE-security).
		awk -v suite="$SUITE" '
			BEGIN { RS = ""; FS = "\n" }
			{
				uri = ""; ok = 0
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri = a[2] }
					if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) ok = 1 }
				}
				if (ok && uri != "") { print uri; exit }
			}' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		# deb [options] URI SUITE COMPONENTS...
		awk -v suite="$SUITE" '$1 == "deb" { sub(/\[[^]]*\][ \t]*/, ""); if ($3 == suite) { print $2; exit } }' "$f"
	done
}

# alias_target prints the fingerprint the alias points at (empty when there
# is no such alias).
alias_target() {
	{ lxc query "/1.0/images/aliases/$ALIAS" 2>/dev/null || true; } | sed -n 's/.*"target": "\([0-9a-f]*\)".*/\1/p'
}

# image_recipe prints the recipe property of the image of fingerprint $1
# (empty for an image this script did not build, or none).
image_recipe() {
	[ -n "$1" ] || return 0
	{ lxc query "/1.0/images/$1" 2>/dev/null || true; } | sed -n 's/.*"recipe": "\([0-9a-f]*\)".*/\1/p'
}

install_debootstrap() {
	command -v debootstrap >/dev/null 2>&1 && return 0
	log "installing debootstrap"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq debootstrap >&2
}

BUILD=""
cleanup() {
	[ -n "$BUILD" ] && [ -d "$BUILD" ] || return 0
	# debootstrap unmounts what it mounted, but not when it is killed:
	# unmount anything left below the build folder before removing it.
	{ grep -o " $BUILD[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	rm -rf --one-file-system "$BUILD"
}
trap cleanup EXIT

build() {
	install_debootstrap
	local mirror=${DEBIAN_MIRROR:-$(host_mirror | head -n 1)}
	mirror=${mirror:-http://deb.debian.org/debian}
	BUILD=$(mktemp -d "$STATE/build.XXXXXX")
	local root="$BUILD/rootfs" start=$SECONDS
	log "building the Debian $SUITE image from $mirror (about a minute)"
	debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$mirror" >"$BUILD/debootstrap.log" 2>&1 || {
		log "debootstrap failed; last lines:"
		tail -n 20 "$BUILD/debootstrap.log" >&2
		[ -f "$root/debootstrap/debootstrap.log" ] && tail -n 20 "$root/debootstrap/debootstrap.log" >&2
		exit 1
	}
	local bootstrapped=$SECONDS

	# The user of Ubuntu's cloud images.
	chroot "$root" useradd --create-home --uid 1000 --user-group --shell /bin/bash --groups sudo,adm ubuntu
	echo 'ubuntu ALL=(ALL) NOPASSWD:ALL' >"$root/etc/sudoers.d/90-cloud-init-users"
	chmod 0440 "$root/etc/sudoers.d/90-cloud-init-users"
	chroot "$root" visudo -c >/dev/null

	# Each instance gets its own machine id and hostname.
	: >"$root/etc/machine-id"
	rm -f "$root/var/lib/dbus/machine-id"
	rm -f "$root/etc/hostname"
	mkdir -p "$BUILD/templates"
	echo '{{ container.name }}' >"$BUILD/templates/hostname.tpl"
	cat >"$BUILD/templates/hosts.tpl" <<'HOSTS'
127.0.0.1 localhost
127.0.1.1 {{ container.name }}
::1 localhost ip6-localhost ip6-loopback
HOSTS

	# Smaller, and apt inside starts from nothing.
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root/debootstrap"
	mkdir -p "$root/var/lib/apt/lists/partial"

	cat >"$BUILD/metadata.yaml" <<META
architecture: $(uname -m)
creation_date: $(date +%s)
properties:
  description: Debian $SUITE with systemd, test image for github-runner
  os: debian
  release: $SUITE
  recipe: "$RECIPE"
templates:
  /etc/hostname:
    when: [create, copy]
    template: hostname.tpl
  /etc/hosts:
    when: [create, copy]
    template: hosts.tpl
META
	tar -C "$BUILD" --numeric-owner --xattrs -czf "$BUILD/image.tar.gz" metadata.yaml templates rootfs
	mv "$BUILD/image.tar.gz" "$TARBALL"
	log "built $TARBALL ($(du -h "$TARBALL" | cut -f1)) in $((SECONDS - start)) s ($((bootstrapped - start)) s debootstrap, $((SECONDS - bootstrapped)) s setup and tar)"
}

# import_tarball imports $TARBALL (unless an image of its fingerprint is
# there already) and points the alias at it in one step.
import_tarball() {
	local fp old
	fp=$(sha256sum "$TARBALL" | cut -d' ' -f1)
	if ! lxc query "/1.0/images/$fp" >/dev/null 2>&1; then
		log "importing $TARBALL"
		lxc image import "$TARBALL" >&2
	fi
	old=$(alias_target)
	if [ -z "$old" ]; then
		lxc image alias create "$ALIAS" "$fp" >&2
	elif [ "$old" != "$fp" ]; then
		lxc query -X PUT "/1.0/images/aliases/$ALIAS" --data "{\"target\": \"$fp\", \"description\": \"\"}" >/dev/null
		# The image it pointed at goes if this script built it.
		if [ -n "$(image_recipe "$old")" ]; then
			log "removing the image of an older recipe, $old"
			lxc image delete "$old" >&2 || true
		fi
	fi
}

# The recipe is what decides the image's content: the suite, the packages and
# the build steps (bash prints a function without its comments, so editing
# those rebuilds nothing).
RECIPE=$({ echo "$SUITE $PACKAGES"; declare -f build; } | sha256sum | cut -c1-12)
TARBALL="$STATE/debian-$SUITE-$RECIPE.tar.gz"

mkdir -p "$STATE"
# One build at a time, whoever runs it.
exec 9>"$STATE/debian-image.lock"
flock 9

if [ "$(image_recipe "$(alias_target)")" = "$RECIPE" ]; then
	echo "$ALIAS"
	exit 0
fi
[ -f "$TARBALL" ] || build
import_tarball
# Tarballs of older recipes are not needed any more.
find "$STATE" -maxdepth 1 -name "debian-$SUITE-*.tar.gz" ! -name "${TARBALL##*/}" -delete
echo "$ALIAS"
