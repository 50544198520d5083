#!/usr/bin/env python3
"""Runs the benchmarks of docs/performance.md and prints their tables (Markdown).

  /usr/bin/python3 bench/run_benchmarks.py [--repeats 3] [--only e2e,step,score,ort,kmeans,suite]
                                           [--build build] [--shared ../shared] [--work /tmp/shiftad-bench]
                                           [--onnx MODEL.onnx] [--node-path DIR/node_modules]

Every measurement is a separate process (its peak RSS is its own, from wait4), repeated
--repeats times; tables show medians. The targets are the ratios of issue 6: shiftad
end to end >= 2x the Python reference, train step >= 0.9x and scoring >= 0.9x their
compute bounds, K-means <= 1.5x faiss' time, a warm-cache suite rerun < 5% in
decoding and embedding; and (issue 20) the C++ scorer at or above ONNX Runtime's
images/s at batch 1 and 64 (`ort`: needs Node and onnxruntime-node). Needs build/shiftad and build/shiftad_bench (`make build`),
../shared (OfficeCaltech10 and the MobileNetV2 weights), and Debian's python3-torch,
python3-torchvision and python3-sklearn for the reference.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# One class of OfficeCaltech10 amazon -> webcam, MobileNetV2 fine-tuned end to end (the
# case where the data pipeline matters: every step decodes/augments 224 px images).
E2E_CONFIG = """\
data: {{root: {shared}/datasets/OfficeCaltech10, source: amazon, target: webcam, normal_class: backpack,
       image_size: 224, resize: 224, mean: [0.50196, 0.50196, 0.50196], std: [0.50196, 0.50196, 0.50196],
       pool_fraction: 0.5, contamination: 0.1, augment: true, crop_scale_min: 0.7, hflip: true}}
model: {{arch: mobilenet_v2, weights: {shared}/weights/mobilenet_v2_imagenet.safetensors, freeze: 0,
        head: linear, embedding_dim: 128, head_init: random, trunk_l2: false}}
train: {{epochs: {epochs}, batch_size: 46, lr: 0.001, weight_decay: 1.0e-6, svdd_eps: 0.1, checkpoint_every: 0}}
align: {{method: prototype, lambda: 1, svdd_on_target: true}}
cluster: {{space: none}}
"""


def run(cmd, env=None, cwd=ROOT):
    """Runs cmd; returns (wall seconds, peak RSS MiB, stdout, stderr). The RSS is wait4's:
    the largest single process of the tree (the reference's loader workers are
    separate processes, not summed). Fails loudly with the command's stderr."""
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=fo, stderr=fe, text=True)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{err[-3000:]}")
    return wall, usage.ru_maxrss / 1024, out, err


def last_json(text):
    lines = [l for l in text.splitlines() if l.startswith("{")]
    return json.loads(lines[-1])


def med(values):
    return statistics.median(values) if values else float("nan")


class Bench:
    def __init__(self, a):
        self.a = a
        self.build = os.path.abspath(a.build)
        self.shared = os.path.abspath(a.shared)
        self.work = os.path.abspath(a.work)
        os.makedirs(self.work, exist_ok=True)
        self.env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")  # what the shiftad CLI sets for itself
        self.rows = []

    def cache_env(self, name, fresh):
        d = os.path.join(self.work, "cache-" + name)
        if fresh and os.path.exists(d):
            shutil.rmtree(d)
        return dict(self.env, XDG_CACHE_HOME=d)

    def config(self, epochs):
        path = os.path.join(self.work, f"e2e-{epochs}.yaml")
        with open(path, "w") as f:
            f.write(E2E_CONFIG.format(shared=self.shared, epochs=epochs))
        return path

    def shiftad(self, *args):
        return [os.path.join(self.build, "shiftad"), *args]

    def tool(self, *args):
        return [os.path.join(self.build, "shiftad_bench"), *args]

    # --- end to end -----------------------------------------------------------
    def e2e(self):
        cfg = self.config(self.a.epochs)
        lists = os.path.join(self.work, "lists")
        run(self.tool("split", "--config", cfg, "--out", lists), env=self.env)
        times = {"shiftad (cold caches)": [], "shiftad (warm caches)": [], "python reference": []}
        rss = {k: [] for k in times}
        auroc = {k: [] for k in times}
        for r in range(self.a.repeats):
            env = self.cache_env(f"e2e-{r}", fresh=True)
            for label in ("shiftad (cold caches)", "shiftad (warm caches)"):
                out = os.path.join(self.work, f"e2e-run-{r}")
                shutil.rmtree(out, ignore_errors=True)
                w1, m1, _, _ = run(self.shiftad("train", "--config", cfg, "--out", out), env=env)
                w2, m2, o2, _ = run(self.shiftad("eval", "--model", out), env=env)
                times[label].append(w1 + w2)
                rss[label].append(max(m1, m2))
                auroc[label].append(float(re.search(r"AUROC\D*([0-9.]+)", o2).group(1)))
            w, m, o, _ = run(["/usr/bin/python3", os.path.join(ROOT, "bench", "reference_train.py"), "--lists", lists,
                              "--weights", os.path.join(self.shared, "weights", "mobilenet_v2_imagenet.safetensors"),
                              "--epochs", str(self.a.epochs), "--workers", "2"])
            times["python reference"].append(w)
            rss["python reference"].append(m)
            auroc["python reference"].append(last_json(o)["auroc"])
        ref = med(times["python reference"])
        print(f"\n### End to end: one class, OfficeCaltech10 amazon -> webcam, MobileNetV2 fine-tuned, "
              f"{self.a.epochs} epochs (median of {self.a.repeats})\n")
        print("| implementation | wall s | Python / this | peak RSS MiB | test AUROC |")
        print("|---|---|---|---|---|")
        for k, v in times.items():
            print(f"| {k} | {med(v):.1f} | {ref / med(v):.2f}x | {med(rss[k]):.0f} | {med(auroc[k]):.3f} |")

    # --- train step -----------------------------------------------------------
    def step(self):
        cfg = self.config(3)
        env = self.cache_env("step", fresh=False)
        res = {"pipeline": [], "compute": []}
        rss = {k: [] for k in res}
        profile = None
        for _ in range(self.a.repeats):
            for mode in res:
                _, m, o, _ = run(self.tool("step", "--config", cfg, "--mode", mode, "--steps", "4"), env=env)
                res[mode].append(last_json(o)["images_per_s"])
                rss[mode].append(m)
        _, _, o, _ = run(self.tool("step", "--config", cfg, "--mode", "profile", "--steps", "4"), env=env)
        profile = last_json(o)
        p, c = med(res["pipeline"]), med(res["compute"])
        print(f"\n### Train step: MobileNetV2 fine-tuned at 224 px, {profile['batch']} images a step (median of {self.a.repeats})\n")
        print("| measurement | images/s | peak RSS MiB |")
        print("|---|---|---|")
        print(f"| shiftad Trainer::fit (augmentation, batching, forward, backward, Adam) | {p:.1f} | {med(rss['pipeline']):.0f} |")
        print(f"| compute bound: forward + backward + Adam on one pre-made batch of the same images | {c:.1f} | {med(rss['compute']):.0f} |")
        print(f"| ratio | {p / c:.2f}x | |")
        total = sum(profile["phases_ms"].values())
        print(f"\nProfile of one step ({profile['batch']} images, median ms over 4 steps):\n")
        print("| phase | ms | share |")
        print("|---|---|---|")
        for name, ms in sorted(profile["phases_ms"].items(), key=lambda kv: -kv[1]):
            print(f"| {name} | {ms:.0f} | {100 * ms / total:.1f}% |")

    # --- scoring --------------------------------------------------------------
    def trained_model(self):
        """A MobileNetV2 detector trained for 1 epoch (the end-to-end config), made once."""
        cfg = self.config(1)
        model = os.path.join(self.work, "score-model")
        if not os.path.exists(os.path.join(model, "model.safetensors")):
            shutil.rmtree(model, ignore_errors=True)
            run(self.shiftad("train", "--config", cfg, "--out", model), env=self.cache_env("score-train", fresh=False))
        return model

    def score(self):
        cfg = self.config(1)
        env = self.cache_env("score-train", fresh=False)
        model = self.trained_model()
        images = os.path.join(self.shared, "datasets", "OfficeCaltech10", "amazon")
        api, fwd, rss_api, rss_fwd, n = [], [], [], [], 0
        fwd64, rss64, fwd256, rss256 = [], [], [], []
        for r in range(self.a.repeats):
            _, m, o, _ = run(self.tool("score", "--run", model, "--images", images, "--mode", "api"),
                             env=self.cache_env(f"score-{r}", fresh=True))
            j = last_json(o)
            n = j["images"]
            api.append(j["images_per_s"])
            rss_api.append(m)
            _, m, o, _ = run(self.tool("score", "--run", model, "--mode", "forward", "--n", str(n)), env=env)
            fwd.append(last_json(o)["images_per_s"])
            rss_fwd.append(m)
            for batch, rates, rss in (("64", fwd64, rss64), ("256", fwd256, rss256)):
                _, m, o, _ = run(self.tool("score", "--run", model, "--mode", "forward", "--n", str(n), "--batch", batch),
                                 env=env)
                rates.append(last_json(o)["images_per_s"])
                rss.append(m)
        print(f"\n### Scoring: {n} amazon images (JPEG, decoded from disk, cold cache), MobileNetV2 (median of {self.a.repeats})\n")
        print("| measurement | images/s | peak RSS MiB |")
        print("|---|---|---|")
        print(f"| shiftad::score (list, decode, resize, forward, stream in chunks) | {med(api):.1f} | {med(rss_api):.0f} |")
        print(f"| forward bound: F on pre-made tensors, batches of 16 (what scoring uses) | {med(fwd):.1f} | {med(rss_fwd):.0f} |")
        print(f"| the same in batches of 64 | {med(fwd64):.1f} | {med(rss64):.0f} |")
        print(f"| the same in batches of 256 | {med(fwd256):.1f} | {med(rss256):.0f} |")
        print(f"| ratio | {med(api) / med(fwd):.2f}x | |")

    # --- scoring speed against ONNX Runtime -------------------------------------
    def ort(self):
        """Images/s of the C++ scorer (Trainer::score: F's eval-only copy; and the plain
        eval-mode forward it replaced) and of ONNX Runtime on the same MobileNetV2, at
        batch 1 and 64, 2 intra-op threads each."""
        cfg = self.config(1)
        onnx = self.a.onnx
        if not onnx:  # the detector's own export: pixels, preprocessing, F, head and distance in one graph
            onnx = os.path.join(self.work, "detector.onnx")
            run(self.shiftad("export", "--model", self.trained_model(), "--out", onnx, "--overwrite"), env=self.env)
        node = shutil.which("node")
        env = dict(self.env, NODE_PATH=self.a.node_path) if self.a.node_path else self.env
        rows = {}
        for batch, n in ((1, 128), (64, 256)):
            for label, cmd in (("shiftad scorer (F's eval-only copy)",
                                self.tool("scorer", "--config", cfg, "--path", "fast", "--batch", str(batch), "--n", str(n))),
                               ("shiftad, plain eval forward (before)",
                                self.tool("scorer", "--config", cfg, "--path", "plain", "--batch", str(batch), "--n", str(n))),
                               ("ONNX Runtime (onnxruntime-node, 2 threads)",
                                [node or "node", os.path.join(ROOT, "bench", "ort_score.js"), onnx, "--batch", str(batch),
                                 "--n", str(n), "--threads", "2"])):
                if cmd[0] == "node" and not node:
                    continue
                for _ in range(self.a.repeats):
                    _, _, o, _ = run(cmd, env=env)
                    rows.setdefault(label, {}).setdefault(batch, []).append(last_json(o)["images_per_s"])
        print(f"\n### Scoring speed against ONNX Runtime: a MobileNetV2 detector, uint8 pixels to scores at 224 px, images/s (median of {self.a.repeats})\n")
        print("| scorer | batch 1 | batch 64 |")
        print("|---|---|---|")
        ort = rows.get("ONNX Runtime (onnxruntime-node, 2 threads)")
        for label, by_batch in rows.items():
            cells = []
            for b in (1, 64):
                v = med(by_batch[b])
                cells.append(f"{v:.1f}" + (f" ({v / med(ort[b]):.2f}x ORT)" if ort and label.startswith("shiftad") else ""))
            print(f"| {label} | {' | '.join(cells)} |")
        if not ort:
            print("\n(ONNX Runtime not measured: no `node` on PATH; see docs/performance.md for its install step)")

    # --- K-means --------------------------------------------------------------
    def kmeans(self):
        res = {"shiftad": [], "faiss": []}
        rss = {k: [] for k in res}
        inertia = {}
        args = ["--n", "100000", "--d", "512", "--k", "10", "--iters", "20"]
        for _ in range(self.a.repeats):
            for impl in res:
                _, m, o, _ = run(self.tool("kmeans", "--impl", impl, *args), env=self.env)
                j = last_json(o)
                res[impl].append(j["seconds"])
                rss[impl].append(m)
                inertia[impl] = j["inertia"]
        print(f"\n### K-means: 100000 x 512 float32, K = 10, 20 Lloyd iterations, 1 restart (median of {self.a.repeats})\n")
        print("| implementation | seconds | / faiss | peak RSS MiB | inertia |")
        print("|---|---|---|---|---|")
        for k in res:
            print(f"| {k} | {med(res[k]):.2f} | {med(res[k]) / med(res['faiss']):.2f}x | {med(rss[k]):.0f} | {inertia[k]:.4g} |")
        # Scale: 100k x 2048 (800 MB of float32 input), shiftad only, once.
        _, m, o, _ = run(self.tool("kmeans", "--impl", "shiftad", "--n", "100000", "--d", "2048", "--k", "10", "--iters", "20"),
                         env=self.env)
        j = last_json(o)
        print(f"\n100000 x 2048 (800 MB input), shiftad, same settings, once: {j['seconds']:.1f} s, peak RSS {m:.0f} MiB "
              f"(input, its generator's temporaries and the distance blocks).")

    # --- a suite, twice -------------------------------------------------------
    def suite(self):
        env = self.cache_env("suite", fresh=True)
        rows = []
        for label in ("first run (cold caches)", "second run (warm caches)"):
            out = os.path.join(self.work, "suite-" + label.split()[0])
            shutil.rmtree(out, ignore_errors=True)
            w, m, log, err = run(self.shiftad("bench", "--suite", "office-caltech10", "--quick", "--no-figures", "--out", out),
                                 env=env)
            line = re.search(r"inputs: decoded (\d+) images in ([0-9.]+)s, embedded (\d+) in ([0-9.]+)s \(([0-9.]+)% of",
                             log + err)
            rows.append((label, w, m) + tuple(line.groups()))
        print("\n### A suite run twice: `shiftad bench --suite office-caltech10 --quick` (amazon -> webcam, 10 classes, 9 variants)\n")
        print("| run | wall s | decoded images (s) | embedded images (s) | share of wall time | peak RSS MiB |")
        print("|---|---|---|---|---|---|")
        for label, w, m, di, ds, ei, es, share in rows:
            print(f"| {label} | {w:.1f} | {di} ({float(ds):.1f}) | {ei} ({float(es):.1f}) | {share}% | {m:.0f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3, help="end-to-end training epochs")
    ap.add_argument("--only", default="e2e,step,score,ort,kmeans,suite")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(ROOT), "shared"))
    ap.add_argument("--work", default="/tmp/shiftad-bench")
    ap.add_argument("--onnx", default="",
                    help="ort: the ONNX model ONNX Runtime runs (default: `shiftad export` of a detector trained "
                         "for 1 epoch; bench/export_reference_onnx.py writes PyTorch's export of the bare network)")
    ap.add_argument("--node-path", default=os.environ.get("NODE_PATH", ""),
                    help="ort: node_modules folder holding onnxruntime-node")
    a = ap.parse_args()
    b = Bench(a)
    print(f"<!-- bench/run_benchmarks.py --repeats {a.repeats} --only {a.only}; {time.strftime('%Y-%m-%d %H:%M')}, "
          f"{os.cpu_count()} cores -->")
    for name in a.only.split(","):
        getattr(b, name)()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
