#!/usr/bin/env bash
# Installs the Debian 12 packages clusterd needs that are not installed yet.
# Usage: scripts/install-deps.sh [build|test|bench|deploy]...   (default: build)
# Runs apt-get as root, or through sudo; does nothing when all are present.
set -euo pipefail

build_packages=(g++ make cmake pkg-config libuv1-dev libboost-dev libspdlog-dev libcli11-dev nlohmann-json3-dev libssl-dev)
# systemd: systemd-analyze (unit checks) and systemd-socket-activate; containers often lack it.
# wrk: the load generator of the reload test.
# clang, libclang-rt-14-dev: libFuzzer for the fuzz targets (skipped without them).
# nginx-light, gnuplot-nox, node: the peers and the chart of the lab's fast-mode test (bench/lab).
test_packages=(catch2 libcurl4-openssl-dev curl python3 python3-prometheus-client systemd wrk clang libclang-rt-14-dev
               nginx-light gnuplot-nox)
bench_packages=(wrk nginx-light python3 curl gnuplot-nox)
# deploy/ (make deb, make image, and their tests in the suite): CPack's DEB
# generator (dpkg-shlibdeps from dpkg-dev, file), the man page (help2man),
# lintian; a minimal Debian root from the archive (mmdebstrap); root podman
# with runc, CNI port publishing (iptables) and the pause binary of pods
# (catatonit, for podman kube play); a real Prometheus and promtool.
deploy_packages=(dpkg-dev file help2man lintian mmdebstrap podman runc catatonit iptables prometheus)
# Node.js (the lab's peers) from Debian only where no node is installed at all:
# a node from elsewhere (nvm, NodeSource) serves as well and must not be shadowed.
node_packages=()
command -v node >/dev/null || command -v nodejs >/dev/null || node_packages=(nodejs)
# npm: bench/task_dispatch.sh and bench/similarity.sh install Piscina into build/bench-node.
npm_packages=()
command -v npm >/dev/null || npm_packages=(npm)

wanted=("${build_packages[@]}")
for group in "$@"; do
    case "$group" in
        build) ;;
        test) wanted+=("${test_packages[@]}" "${deploy_packages[@]}" "${node_packages[@]}") ;;
        deploy) wanted+=("${deploy_packages[@]}") ;;
        bench) wanted+=("${test_packages[@]}" "${bench_packages[@]}" "${node_packages[@]}" "${npm_packages[@]}") ;;
        *) echo "install-deps: unknown group '$group' (use build, test, bench or deploy)" >&2; exit 2 ;;
    esac
done

missing=()
for package in "${wanted[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$package")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null; then
    sudo=(sudo)
else
    echo "install-deps: missing packages (${missing[*]}) and neither root nor sudo to install them" >&2
    exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
# nginx-light must not start a system nginx on port 80 just because we use its
# binary, nor prometheus a system Prometheus on port 9090 (the test starts its own).
if printf '%s\n' "${missing[@]}" | grep -q -E '^(nginx|prometheus)'; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
    trap '"${sudo[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
