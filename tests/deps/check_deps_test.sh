#!/usr/bin/env bash
# scripts/check_deps.sh passes on this build with the real install list, and fails,
# naming each package, when packages the build uses are taken off the list.
set -uo pipefail
build=$1
here=$(cd "$(dirname "$0")/../.." && pwd)
check="$here/scripts/check_deps.sh"

out=$(bash "$check" "$build" 2>&1); rc=$?
[ "$rc" -eq 77 ] && { echo "$out"; exit 77; }
if [ "$rc" -ne 0 ]; then echo "FAIL: the real install list does not cover the build:"; echo "$out"; exit 1; fi

# Two packages whose CMake config files the build reads (find_package(OpenCV), find_package(yaml-cpp)).
removed=(libopencv-dev libyaml-cpp-dev)
list=$(bash "$here/scripts/install_deps.sh" --list | grep -vxF -e "${removed[0]}" -e "${removed[1]}" | tr '\n' ' ')
out=$(SHIFTAD_DEPS_PACKAGES="$list" bash "$check" "$build" 2>&1); rc=$?
if [ "$rc" -ne 1 ]; then echo "FAIL: expected exit 1 with ${removed[*]} off the list, got $rc:"; echo "$out"; exit 1; fi
for p in "${removed[@]}"; do
  if ! grep -q "package '$p'" <<<"$out"; then echo "FAIL: the check did not name '$p':"; echo "$out"; exit 1; fi
done
# Any argument but --list (`--help`, a typo) ran the installer; it is refused with a usage line.
out=$(bash "$here/scripts/install_deps.sh" --help 2>&1); rc=$?
if [ "$rc" -ne 2 ] || ! grep -q "usage: .*--list" <<<"$out"; then
  echo "FAIL: install_deps.sh --help should print its usage and exit 2, got $rc:"; echo "$out"; exit 1
fi
echo "ok: the real list passes; without ${removed[*]} the check fails naming both; --help is refused"
