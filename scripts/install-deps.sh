#!/usr/bin/env bash
# Installs the Debian packages turnout builds, tests and benchmarks with. Idempotent:
# exits at once when everything is already there.
set -euo pipefail

packages=(
  g++ make pkg-config ccache
  libuv1-dev node-llhttp libprotobuf-dev protobuf-compiler libyaml-cpp-dev libre2-dev
  libjemalloc-dev libxxhash-dev libgtest-dev libgmock-dev libbenchmark-dev
  python3 curl wrk nginx haproxy procps valgrind
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  "${missing[@]}"
