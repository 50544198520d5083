#!/usr/bin/env bash
# Reruns part of the committed suite results and compares them row by row: every
# variant of a suite, on every direction, for the first N normal classes of its
# committed results.csv, seed 0 (issue 16: a refactoring must not move a number).
#
#   scripts/check_reproduction.sh [--build DIR] [--out DIR] [--tolerance T] [--classes N] [--baseline DIR] [SUITE ...]
#
# SUITE: shipped suite names whose results live in docs/results/SUITE (default: pacs
# office-caltech10). --tolerance: largest allowed |difference| of AUROC and AUPR
# (default 5e-4: float noise between two machines of the same kind is below 1e-4; a
# changed random stream moves AUROC by about 1e-2). The rows that differ at all at 6
# decimals are listed. Exit status 1 when a row is missing or differs by more than T.
# --baseline DIR: also compare with the OUT of an earlier run of this script (e.g. the
# code before a change, on this machine), where every row must be identical to 6
# decimals (tolerance 0).
# Needs ../shared (the datasets and weights the suites name); ~10 min with cold
# feature caches, ~3 min warm, on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="$here/build"
out=""
tol="5e-4"
nclasses=2
baseline=""
suites=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$(cd "$2" && pwd)"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --tolerance) tol="$2"; shift 2 ;;
    --classes) nclasses="$2"; shift 2 ;;
    --baseline) baseline="$(cd "$2" && pwd)"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) suites+=("$1"); shift ;;
  esac
done
[ ${#suites[@]} -gt 0 ] || suites=(pacs office-caltech10)
[ -n "$out" ] || out="$(mktemp -d /tmp/shiftad-repro.XXXXXX)"
[ -x "$build/shiftad" ] || { echo "check_reproduction: no shiftad binary in '$build' (build first, or pass --build DIR)" >&2; exit 2; }
mkdir -p "$out"

status=0
compare() {  # compare REFERENCE_CSV NEW_CSV TOLERANCE
  /usr/bin/python3 - "$1" "$2" "$3" <<'PY'
import csv, sys
reference_path, new_path, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
key = lambda r: (r["source"], r["target"], r["class"], r["seed"], r["variant"], r.get("setting", ""))
committed = {key(r): r for r in csv.DictReader(open(reference_path))}
rows = list(csv.DictReader(open(new_path)))
worst, moved, bad = 0.0, [], []
for r in rows:
    c = committed.get(key(r))
    if c is None:
        bad.append(f"  {'/'.join(key(r)[:5])}: not in the reference results")
        continue
    for col in ("auroc", "aupr"):
        d = abs(float(r[col]) - float(c[col]))
        worst = max(worst, d)
        if r[col] != c[col]:
            moved.append(f"  {'/'.join(key(r)[:5])} {col}: reference {c[col]}, now {r[col]} (diff {d:.2e})")
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

}

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
  echo "-- against the committed docs/results/$suite/results.csv (tolerance $tol)"
  compare "$committed" "$out/$suite/results.csv" "$tol" || status=1
  if [ -n "$baseline" ]; then
    echo "-- against the baseline $baseline/$suite/results.csv (identical to 6 decimals)"
    compare "$baseline/$suite/results.csv" "$out/$suite/results.csv" 0 || status=1
  fi
done
[ $status -eq 0 ] && echo "reproduction check passed" || echo "reproduction check FAILED"
exit $status
