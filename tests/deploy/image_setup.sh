#!/usr/bin/env bash
# Fixture: the container image from the root fixture's tarball
# (deploy/image/build-image.sh, `podman import`), in this build's private
# podman storage (lib.sh, podman_setup).
#   image_setup.sh SOURCE_DIR BUILD_DIR
. "$(dirname "$0")/lib.sh"
source_dir=$1
export DEPLOY_DIR=$2/deploy
[ -f "$DEPLOY_DIR/root.tar" ] || skip "no root was built (see the root fixture's output)"
podman_setup
podman rmi -f "$deploy_image" >/dev/null 2>&1 || true
"$source_dir/deploy/image/build-image.sh" "$DEPLOY_DIR/root.tar" "$deploy_image" || fail "podman import failed"
podman image inspect --format 'user {{.Config.User}}, entrypoint {{.Config.Entrypoint}}, env {{.Config.Env}}' "$deploy_image"
echo "PASSED"
