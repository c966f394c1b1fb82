#!/usr/bin/env bash
# Fixture: one minimal Debian 12 root with the package installed, built once
# per test run from the Debian archive (deploy/image/build-root.sh), for the
# package's install test and for the image. DEPLOY_DIR/root.tar.
#   root_setup.sh SOURCE_DIR BUILD_DIR
. "$(dirname "$0")/lib.sh"
source_dir=$1
build=$2
export DEPLOY_DIR=$build/deploy
mkdir -p "$DEPLOY_DIR"
rm -f "$DEPLOY_DIR/root.tar"

command -v mmdebstrap >/dev/null || skip "mmdebstrap is not installed (apt-get install mmdebstrap)"
[ "$(id -u)" -eq 0 ] || skip "mmdebstrap --mode=root needs root (run the suite as root)"
deb=$(ls "$build"/deb/clusterd_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "no package in $build/deb (the deb test builds it)"

log=$DEPLOY_DIR/mmdebstrap.log
say "mmdebstrap: $deb into a minimal bookworm root ($log)"
if ! "$source_dir/deploy/image/build-root.sh" "$deb" "$DEPLOY_DIR/root.tar" >"$log" 2>&1; then
    tail -30 "$log"
    # No archive to build from is no root at all; anything else is a failure.
    if grep -q -E "Temporary failure resolving|Could not resolve|Failed to fetch|Unable to connect|Network is unreachable" "$log"; then
        skip "mmdebstrap cannot reach the Debian archive: no root can be built here"
    fi
    fail "mmdebstrap could not build the root with the package"
fi
tail -3 "$log"
echo "PASSED: $(du -m "$DEPLOY_DIR/root.tar" | cut -f1) MiB root"
