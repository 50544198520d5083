#!/usr/bin/env bash
# Check that everything a configured build found on this machine comes from a Debian
# package that scripts/install_deps.sh installs: every CMake package config file
# (<Pkg>_DIR in CMakeCache.txt), every library CMake located (*_LIBRARY* entries) and
# every pkg-config file it read. A package installed by hand hides a missing install
# step (the build works here, and fails on a fresh machine); this makes that visible.
#
#   scripts/check_deps.sh BUILD_DIR
#
# "Installs" means: a package of the list or one apt pulls in for it (its Depends and
# Pre-Depends, recursively). SHIFTAD_DEPS_PACKAGES (space separated) replaces the list,
# which is how the test shows that a package missing from the list is caught.
# Exit status: 0 all owned, 1 something is not, 2 usage, 77 not a dpkg system (skipped).
set -euo pipefail

build=${1:-}
if [ -z "$build" ] || [ ! -f "$build/CMakeCache.txt" ]; then
  echo "usage: $0 BUILD_DIR (a configured build folder with CMakeCache.txt)" >&2
  exit 2
fi
if ! command -v dpkg-query >/dev/null || ! command -v apt-cache >/dev/null; then
  echo "check_deps: not a Debian system (no dpkg/apt-cache): skipped" >&2
  exit 77
fi

here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${SHIFTAD_DEPS_PACKAGES:-}" ]; then
  read -r -a listed <<<"$SHIFTAD_DEPS_PACKAGES"
else
  mapfile -t listed < <(bash "$here/install_deps.sh" --list)
fi

# The packages the list brings: itself and its dependency closure.
declare -A installs=()
while read -r p; do
  installs["${p%%:*}"]=1
done < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
           --no-enhances "${listed[@]}" 2>/dev/null | grep -v '^ ' | tr -d '<>')

cache="$build/CMakeCache.txt"
files=()
# Package config files: <Pkg>_DIR points at the folder holding <Pkg>Config.cmake or
# <pkg>-config.cmake.
while IFS='=' read -r key dir; do
  pkg=${key%%_DIR:*}
  lower=$(printf '%s' "$pkg" | tr '[:upper:]' '[:lower:]')
  for f in "$dir/${pkg}Config.cmake" "$dir/${lower}-config.cmake" "$dir/${pkg}-config.cmake"; do
    if [ -f "$f" ]; then files+=("$f"); break; fi
  done
done < <(grep -E '^[A-Za-z0-9_.+-]+_DIR:PATH=/' "$cache" || true)
# Libraries found by Find modules and find_library.
while IFS='=' read -r _ f; do
  [ -e "$f" ] && files+=("$f")
done < <(grep -E '^[A-Za-z0-9_]+_LIBRARY[A-Z_]*:FILEPATH=/' "$cache" || true)
# pkg-config modules (pkg_check_modules records them as __pkg_config_arguments_*).
if command -v pkg-config >/dev/null; then
  while IFS='=' read -r _ args; do
    for m in ${args//;/ }; do
      case "$m" in REQUIRED|QUIET|IMPORTED_TARGET|GLOBAL|NO_CMAKE_PATH|NO_CMAKE_ENVIRONMENT_PATH) continue ;; esac
      m=${m%%[<>=]*}
      pc=$(pkg-config --path "$m" 2>/dev/null || true)
      [ -n "$pc" ] && files+=("$pc")
    done
  done < <(grep -E '^__pkg_config_arguments_[A-Za-z0-9_]+:INTERNAL=' "$cache" || true)
fi

# The package owning a file: dpkg -S on the path, else on its resolved target (the
# .so links that update-alternatives manages belong to no package by their own name).
owner() {
  local f=$1 o
  o=$(dpkg-query -S "$f" 2>/dev/null | head -n1 | cut -d: -f1) || true
  if [ -z "$o" ]; then o=$(dpkg-query -S "$(readlink -f "$f")" 2>/dev/null | head -n1 | cut -d: -f1) || true; fi
  printf '%s' "$o"
}

bad=0
checked=0
for f in "${files[@]}"; do
  checked=$((checked + 1))
  o=$(owner "$f")
  if [ -z "$o" ]; then
    echo "check_deps: '$f' (used by the build in $build) belongs to no Debian package: it was installed by hand;" \
         "install it from a package and add that package to scripts/install_deps.sh" >&2
    bad=1
  elif [ -z "${installs[$o]:-}" ]; then
    echo "check_deps: '$f' (used by the build in $build) comes from package '$o', which scripts/install_deps.sh" \
         "does not install; add '$o' to its PACKAGES" >&2
    bad=1
  fi
done
if [ "$bad" -eq 0 ]; then
  echo "check_deps: the $checked package config files and libraries the build used all come from packages" \
       "scripts/install_deps.sh installs"
fi
exit "$bad"
