#!/usr/bin/env bash
# The Debian package, built from this build with CPack, unpacked into a scratch root: its
# control data and files, the server and the CLI run from it, the example config checks,
# the sysusers file makes the user, and systemd-analyze verifies the unit.
#
# usage: tests/package_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail() {
  echo "package_test: $*" >&2
  exit 1
}

cpack --config "$build/CPackConfig.cmake" -G DEB -B "$scratch/out" > "$scratch/cpack.log" 2>&1 ||
  { cat "$scratch/cpack.log"; fail "cpack failed"; }
deb=$(ls "$scratch"/out/turnscout_*_amd64.deb 2> /dev/null | head -n 1 || true)
[[ -n $deb ]] || deb=$(ls "$scratch"/out/*.deb | head -n 1)
echo "package: $(basename "$deb"), $(du -h "$deb" | cut -f1)"

control=$(dpkg-deb -f "$deb")
echo "$control"
grep -q '^Package: turnscout$' <<< "$control" || fail "no Package: turnscout"
grep -q '^Depends: .*libuv1' <<< "$control" || fail "Depends does not name libuv1"
dpkg-deb -I "$deb" postinst | grep -q 'adduser --system' || fail "postinst makes no user"

root=$scratch/root
dpkg-deb -x "$deb" "$root"
for f in usr/sbin/turnscout-server usr/bin/turnscout usr/lib/systemd/system/turnscout-server@.service \
  usr/lib/sysusers.d/turnscout.conf usr/share/man/man8/turnscout-server.8 \
  usr/share/man/man1/turnscout.1 usr/share/man/man5/turnscout.yaml.5 \
  usr/share/turnscout/examples/leaf.yaml usr/share/doc/turnscout/PROTOCOL.md \
  usr/include/turnscout/client.hpp usr/lib/cmake/turnscout/turnscoutConfig.cmake; do
  [[ -e $root/$f ]] || fail "missing from the package: /$f"
done
if grep -l '@TURNSCOUT_' "$root"/usr/share/man/man*/* "$root"/usr/lib/systemd/system/*; then
  fail "a placeholder was left unfilled"
fi
grep -q '^ExecStart=/usr/sbin/turnscout-server --config /etc/turnscout/%i.yaml$' \
  "$root/usr/lib/systemd/system/turnscout-server@.service" || fail "the unit's ExecStart"
grep -q '/usr/share/turnscout/examples' "$root/usr/share/man/man8/turnscout-server.8" ||
  fail "the man page does not name the installed examples"

# The binaries from the package (the CLI with the package's own libturnscout).
export LD_LIBRARY_PATH=$root/usr/lib
"$root/usr/sbin/turnscout-server" --version
"$root/usr/bin/turnscout" --version
mkdir -p "$scratch/etc"
cp "$root"/usr/share/turnscout/examples/*.yaml "$scratch/etc/"
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$scratch/etc/cluster.key")
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$scratch/etc/token.key")
for node in root region leaf; do
  "$root/usr/sbin/turnscout-server" --config "$scratch/etc/$node.yaml" --check-config > /dev/null ||
    fail "--check-config of the packaged $node.yaml"
done
echo "--check-config: the packaged root, region and leaf configs are valid"

# The user, as systemd-sysusers makes it from the package's file.
mkdir -p "$root/etc"
systemd-sysusers --root="$root" > /dev/null
grep -q '^turnscout:' "$root/etc/passwd" || fail "systemd-sysusers made no turnscout user"

# The unit, verified against this machine's systemd with the server at its unpacked path.
mkdir -p "$scratch/units"
sed "s|/usr/sbin/turnscout-server|$root/usr/sbin/turnscout-server|g" \
  "$root/usr/lib/systemd/system/turnscout-server@.service" > "$scratch/units/turnscout-server@leaf.service"
systemd-analyze verify --man=no "$scratch/units/turnscout-server@leaf.service" ||
  fail "systemd-analyze verify"
echo "systemd-analyze verify: the unit is valid"
systemd-analyze security --offline=yes "$scratch/units/turnscout-server@leaf.service" 2>&1 |
  tail -n 1
# The container image, where the machine has a container tool.
tool=$(command -v docker || command -v podman || true)
if [[ -n $tool ]] && ! "$tool" info > /dev/null 2>&1; then
  echo "container image: $tool is installed but cannot build here ($tool info fails: no daemon?), so packaging/Dockerfile was not built"
elif [[ -n $tool ]]; then
  mkdir -p "$scratch/image"
  cp "$(dirname "$0")/../packaging/Dockerfile" "$deb" "$scratch/image/"
  "$tool" build -q -t turnscout-package-test "$scratch/image" > /dev/null || fail "image build"
  "$tool" run --rm turnscout-package-test --version || fail "the image does not run"
  "$tool" rmi turnscout-package-test > /dev/null || true
  echo "container image: built with $tool and run"
else
  echo "container image: no docker or podman on this machine, so packaging/Dockerfile was not built"
fi
echo "package_test: ok"
