#!/usr/bin/env bash
# Install the Debian 12 packages shiftad needs to build, test and benchmark.
# Idempotent and quiet when everything is already there.
set -euo pipefail

PACKAGES=(
  build-essential cmake ccache pkg-config
  libtorch-dev                                   # LibTorch 1.13 (CPU)
  libgloo-dev                                    # Gloo headers for LibTorch's c10d (data-parallel training, docs/scale.md)
  libopenblas0-pthread                           # fast BLAS behind libblas.so.3 (reference BLAS is ~10x slower)
  libopencv-dev                                  # OpenCVConfig.cmake (find_package(OpenCV)) ships only here
  libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libgtest-dev
  zlib1g-dev                                     # crc32: a PNG chunk's checksum, checked before decoding
  libjpeg62-turbo-dev                            # jpeglib.h: JPEG decoded with libjpeg's damage warnings caught
  libpng-dev                                     # png.h: PNG decoded with libpng's messages caught, not printed
  libfaiss-dev                                   # bench/: the K-means reference (docs/performance.md)
  libonnx-dev libprotobuf-dev                    # shiftad export: the ONNX protobuf and checker (docs/deploy.md)
  python3-torch python3-torchvision python3-sklearn python3-numpy python3-pil python3-yaml  # test oracles (PyYAML: configs read by YAML 1.1 readers)
  locales                                        # localedef: tests of numbers in a host with a German locale
)

# `install_deps.sh --list`: print the packages, one per line (scripts/check_deps.sh
# checks the build against this list).
if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${PACKAGES[@]}"
  exit 0
fi
# Anything else (`--help`, a typo) ran the installer: say what the script takes instead.
if [ $# -gt 0 ]; then
  echo "usage: $0 [--list]   (no argument: install what is missing of the list; --list: print it)" >&2
  exit 2
fi

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0

  echo "shiftad: installing ${#missing[@]} Debian package(s): ${missing[*]}"
  local SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "shiftad: packages installed"
}

# ONNX Runtime (CPU) from npm, the independent runtime the export tests run exported
# models in (tools/onnxruntime, docs/deploy.md). --ignore-scripts: its install script
# downloads GPU parts from a host that may be unreachable; the CPU runtime is in the
# package. Optional: without Node or the registry it warns and those tests skip.
install_onnxruntime() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tools/onnxruntime"
  [ -d "$dir/node_modules/onnxruntime-node" ] && return 0
  if ! command -v npm >/dev/null; then
    echo "shiftad: warning: npm not found; ONNX Runtime not installed (the ONNX export tests will skip)" >&2
    return 0
  fi
  echo "shiftad: installing onnxruntime-node (npm) into $dir"
  if ! (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null); then
    echo "shiftad: warning: npm could not install onnxruntime-node; the ONNX export tests will skip" >&2
  fi
}

install_packages
install_onnxruntime
