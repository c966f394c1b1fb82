#!/usr/bin/env bash
# Builds a minimal Debian 12 root with the clusterd package installed, as a
# tarball, from the Debian archive only (mmdebstrap): the root of the
# container image (build-image.sh) and of the package's install test.
#
#   deploy/image/build-root.sh build/deb/clusterd_0.1.0-1_amd64.deb build/deploy/root.tar
#
# --variant=essential plus the package: apt resolves the package's Depends
# from the archive, so the root holds exactly what the package declares it
# needs (and a missing dependency shows as a daemon that cannot start).
# Manuals, docs (but copyright files) and locales are left out. The image's
# user clusterd (uid and gid 10001) is added here: the package itself needs
# none (its unit uses DynamicUser=).
#
# MIRROR (default http://deb.debian.org/debian) and SECURITY_MIRROR
# (http://deb.debian.org/debian-security) name the archive.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 PACKAGE.deb OUTPUT.tar" >&2
    exit 2
fi
deb=$(realpath "$1")
out=$2
mirror=${MIRROR:-http://deb.debian.org/debian}
security_mirror=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
hooks=/usr/share/mmdebstrap/hooks

command -v mmdebstrap >/dev/null || { echo "$0: mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 3; }
[ -f "$deb" ] || { echo "$0: no package at $1 (make deb)" >&2; exit 2; }
mkdir -p "$(dirname "$out")"

# The tarball is written whole or not at all.
tmp="$out.partial"
rm -f "$tmp"
trap 'rm -f "$tmp"' EXIT
mmdebstrap --variant=essential --mode=root --format=tar \
    --hook-dir="$hooks/merged-usr" \
    --hook-dir="$hooks/file-mirror-automount" \
    --include="$deb" \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --customize-hook='echo "clusterd:x:10001:10001:clusterd:/nonexistent:/usr/sbin/nologin" >> "$1/etc/passwd"' \
    --customize-hook='echo "clusterd:x:10001:" >> "$1/etc/group"' \
    --customize-hook='rm -rf "$1"/var/cache/debconf/*-old "$1"/var/lib/dpkg/*-old "$1"/var/log/*' \
    bookworm "$tmp" \
    "deb $mirror bookworm main" \
    "deb $mirror bookworm-updates main" \
    "deb $security_mirror bookworm-security main"
mv "$tmp" "$out"
trap - EXIT
echo "$0: $out ($(du -m "$out" | cut -f1) MiB)"
