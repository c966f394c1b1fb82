#!/usr/bin/env bash
# `make deb` in the suite: cpack builds the package(s) from the install rules
# of this build tree, lintian reports no errors, and the package holds what
# an operator expects where Debian keeps it, with its runtime Depends.
#   deb_test.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
build=$1

command -v cpack >/dev/null || fail "cpack is missing"
command -v dpkg-shlibdeps >/dev/null || skip "dpkg-shlibdeps is not installed (apt-get install dpkg-dev)"
command -v lintian >/dev/null || skip "lintian is not installed (apt-get install lintian)"

rm -f "$build"/deb/*.deb
say "cpack -G DEB"
(cd "$build" && cpack --config CPackConfig.cmake) || fail "cpack failed"
deb=$(ls "$build"/deb/clusterd_*.deb)
[ "$(echo "$deb" | wc -l)" -eq 1 ] || fail "expected one clusterd_*.deb, found: $deb"
echo "$deb: $(du -k "$deb" | cut -f1) KiB"

say "dpkg-deb --info"
dpkg-deb --info "$deb"
depends=$(dpkg-deb --field "$deb" Depends)
names=$(sed -e 's/([^)]*)//g' -e 's/[ |]//g' <<<"$depends" | tr ',' '\n')
# libcrypto, spdlog, fmt, libuv and the C++ runtime are linked into the
# binary (CLUSTERD_STATIC_CRYPTO, CLUSTERD_BUILTIN_SPDLOG,
# CLUSTERD_STATIC_RUNTIME: a worker's start binds ~140 symbols, not ~5700),
# so libc6 is the stock binary's one runtime dependency.
grep -q -x libc6 <<<"$names" || fail "Depends lacks libc6: $depends"
for library in libssl3 libspdlog1.10 libfmt9 libuv1 'libstdc++6' libgcc-s1; do
    if grep -q -x "$library" <<<"$names"; then fail "Depends names $library, which is linked in: $depends"; fi
done

say "contents"
contents=$(dpkg-deb --contents "$deb" | awk '{print $6}')
echo "$contents"
for path in ./usr/bin/clusterd ./usr/lib/systemd/system/clusterd.service ./usr/lib/systemd/system/clusterd.socket \
            ./usr/share/man/man1/clusterd.1.gz ./usr/share/doc/clusterd/copyright \
            ./usr/share/doc/clusterd/changelog.Debian.gz ./usr/share/doc/clusterd/OPERATING.md; do
    grep -q -x -F "$path" <<<"$contents" || fail "the package lacks $path"
done
if grep -q -F "$build" <<<"$contents"; then fail "the package holds paths of the build tree"; fi

# The units as installed name the installed binary, not /usr/local or the staging tree.
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb --extract "$deb" "$unpacked"
grep -q '^ExecStart=/usr/bin/clusterd ' "$unpacked/usr/lib/systemd/system/clusterd.service" \
    || fail "clusterd.service does not start /usr/bin/clusterd: $(grep ExecStart "$unpacked/usr/lib/systemd/system/clusterd.service")"
if grep -r -q -e /usr/local -e "$build" "$unpacked/usr/lib/systemd/system"; then
    fail "an installed unit names /usr/local or the build tree"
fi
grep -q 'drain\\-delay' <<<"$(zcat "$unpacked/usr/share/man/man1/clusterd.1.gz")" || fail "the man page lacks --drain-delay (not made from --help?)"

say "lintian"
# Errors fail; warnings and infos are shown.
lintian --fail-on error --display-info "$build"/deb/*.deb || fail "lintian reports errors"
echo "PASSED: $deb"
