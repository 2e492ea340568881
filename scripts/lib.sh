# Shared by scripts/test.sh and scripts/demo.sh: install what the build needs, then build.
# Sourced, not run.

# Debian 12 packages. Each is named in README.md with the reason it is there.
TURNSCOUT_PACKAGES=(
  cmake ninja-build pkg-config g++ clang clang-format libclang-rt-14-dev
  libuv1-dev libyaml-cpp-dev libfmt-dev libspdlog-dev libcli11-dev
  libssl-dev openssl libisal-dev zlib1g-dev nlohmann-json3-dev doctest-dev libsystemd-dev
  prometheus python3
)

log() { printf '\n== %s\n' "$*"; }

# Installs the packages that are missing; does nothing (and needs no network) when all are there.
ensure_packages() {
  local missing=()
  local p
  for p in "${TURNSCOUT_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  log "installing: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "need root to install packages (run as root, or install them: apt-get install ${missing[*]})" >&2
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Packages such as prometheus ship a service; only its tools are wanted here, so forbid
  # service starts for the duration of the install (policy-rc.d exit 101 = "not allowed").
  local policy=/usr/sbin/policy-rc.d
  local had_policy=0
  [ -e "$policy" ] && had_policy=1
  if [ $had_policy = 0 ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
  fi
  local status=0
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    status=$?
  [ $had_policy = 1 ] || rm -f "$policy"
  return $status
}

# build DIR [cmake options...]: configures and builds with every core; only the targets in
# $BUILD_TARGETS when it is set (space-separated).
build() {
  local dir=$1
  shift
  log "build $dir $*"
  cmake -S . -B "$dir" -G Ninja -DTURNSCOUT_WERROR=ON "$@" >/dev/null
  local targets=()
  [ -n "${BUILD_TARGETS:-}" ] && read -r -a targets <<<"$BUILD_TARGETS" && targets=(--target "${targets[@]}")
  cmake --build "$dir" -j "$(nproc)" "${targets[@]}"
}
