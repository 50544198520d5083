"""Time `shiftad score --images - --out -` as a program that keeps it running sees it.

Starts one scoring process on a run, waits for its header (the detector is loaded),
then sends one image path at a time and waits for its row before sending the next:
prints the time to the header and the median and largest time per image
(docs/deploy.md, "What a call costs").

    /usr/bin/python3 tools/stream_latency.py --shiftad build/shiftad --model RUN --images LIST [--count 40]

LIST: a text file with one image path per line (the first COUNT are sent).
"""
import argparse
import statistics
import subprocess
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shiftad", default="build/shiftad")
    ap.add_argument("--model", required=True, help="run directory")
    ap.add_argument("--images", required=True, help="text file, one image path per line")
    ap.add_argument("--count", type=int, default=40)
    a = ap.parse_args()
    with open(a.images) as f:
        paths = [line.rstrip("\r\n") for line in f if line.strip()][: a.count]
    start = time.monotonic()
    p = subprocess.Popen([a.shiftad, "score", "-q", "--model", a.model, "--images", "-", "--out", "-"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    header = p.stdout.readline()
    if not header.startswith("path,score"):
        raise SystemExit("no header from shiftad score (its error is above)")
    ready = time.monotonic() - start
    per_image = []
    for path in paths:
        t = time.monotonic()
        p.stdin.write(path + "\n")
        p.stdin.flush()
        if not p.stdout.readline():
            raise SystemExit("shiftad score ended early (its error is above)")
        per_image.append(time.monotonic() - t)
    p.stdin.close()
    p.wait()
    print(f"loaded in {ready:.2f} s; per image: median {1000 * statistics.median(per_image):.1f} ms, "
          f"max {1000 * max(per_image):.1f} ms over {len(per_image)} images")


if __name__ == "__main__":
    main()
