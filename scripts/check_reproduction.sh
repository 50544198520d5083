#!/usr/bin/env bash
# Reruns part of the committed suite results and compares them row by row: every
# variant of a suite, on every direction, for the first N normal classes of its
# committed results.csv, seed 0 (issue 16: a refactoring must not move a number).
#
#   scripts/check_reproduction.sh [--build DIR] [--out DIR] [--tolerance T] [--classes N] [SUITE ...]
#
# SUITE: shipped suite names whose results live in docs/results/SUITE (default: pacs
# office-caltech10). --tolerance: largest allowed |difference| of AUROC and AUPR
# (default 5e-4: float noise between two machines of the same kind is below 1e-4; a
# changed random stream moves AUROC by about 1e-2). The rows that differ at all at 6
# decimals are listed. Exit status 1 when a row is missing or differs by more than T.
# Needs ../shared (the datasets and weights the suites name); ~10 min with cold
# feature caches, ~3 min warm, on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="$here/build"
out=""
tol="5e-4"
nclasses=2
suites=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$(cd "$2" && pwd)"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --tolerance) tol="$2"; shift 2 ;;
    --classes) nclasses="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) suites+=("$1"); shift ;;
  esac
done
[ ${#suites[@]} -gt 0 ] || suites=(pacs office-caltech10)
[ -n "$out" ] || out="$(mktemp -d /tmp/shiftad-repro.XXXXXX)"
[ -x "$build/shiftad" ] || { echo "check_reproduction: no shiftad binary in '$build' (build first, or pass --build DIR)" >&2; exit 2; }
mkdir -p "$out"

status=0
for suite in "${suites[@]}"; do
  committed="$here/docs/results/$suite/results.csv"
  [ -f "$committed" ] || { echo "check_reproduction: '$committed' does not exist" >&2; exit 2; }
  classes="$(/usr/bin/python3 - "$committed" "$nclasses" <<'PY'
import csv, sys
seen = []
for row in csv.DictReader(open(sys.argv[1])):
    if row["class"] not in seen:
        seen.append(row["class"])
print(",".join(seen[: int(sys.argv[2])]))
PY
)"
  echo "== $suite: classes $classes, seed 0, every variant and direction -> $out/$suite"
  (cd "$here" && "$build/shiftad" bench --suite "$suite" --classes "$classes" --seeds 0 --no-figures \
      --out "$out/$suite") > "$out/$suite.log" 2>&1 || { echo "bench failed; see $out/$suite.log" >&2; tail -5 "$out/$suite.log" >&2; exit 1; }
  /usr/bin/python3 - "$committed" "$out/$suite/results.csv" "$tol" <<'PY' || status=1
import csv, sys
committed_path, new_path, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
key = lambda r: (r["source"], r["target"], r["class"], r["seed"], r["variant"], r.get("setting", ""))
committed = {key(r): r for r in csv.DictReader(open(committed_path))}
rows = list(csv.DictReader(open(new_path)))
worst, moved, bad = 0.0, [], []
for r in rows:
    c = committed.get(key(r))
    if c is None:
        bad.append(f"  {'/'.join(key(r)[:5])}: not in the committed results")
        continue
    for col in ("auroc", "aupr"):
        d = abs(float(r[col]) - float(c[col]))
        worst = max(worst, d)
        if r[col] != c[col]:
            moved.append(f"  {'/'.join(key(r)[:5])} {col}: committed {c[col]}, now {r[col]} (diff {d:.2e})")
        if d > tol:
            bad.append(moved[-1])
print(f"{len(rows)} rows compared; {len(rows) - len({m.split(' ')[2] for m in moved})} identical to 6 decimals; "
      f"largest difference {worst:.2e} (tolerance {tol:g})")
for m in moved:
    print(m)
if not rows:
    bad.append("  no rows were produced")
if bad:
    print("FAILED:")
    print("\n".join(bad))
    sys.exit(1)
PY
done
[ $status -eq 0 ] && echo "reproduction check passed" || echo "reproduction check FAILED"
exit $status
