#!/usr/bin/env python3
"""Manual check of the synthetic benchmark (not run by ctest: minutes of CPU).

usage: data_synth_shift_check.py ROOT [EPOCHS]
ROOT is a writeSynth output (ROOT/{source,target}/CLASS/*.png). For each class as the
normal class, a from-scratch Deep SVDD (3-conv CNN, bias-free, center with |c| >= 0.1)
is trained on the first 60% of its source images and scored by AUROC on
  source->source: the remaining source images of all classes,
  source->target: every target image,
  target->target: the same detector trained on the first 60% of the target normals,
                  tested on the remaining target images.
The benchmark is meant to give source->source > source->target (the shift hurts) and
target->target > source->target (the target keeps the class information).
"""
import glob
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision.io as io
from sklearn.metrics import roc_auc_score

torch.set_num_threads(1)
ROOT = sys.argv[1]
EPOCHS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
CLASSES = sorted(p.split("/")[-1] for p in glob.glob(ROOT + "/source/*"))


def load(domain):
    x, y, first = [], [], []
    for k, c in enumerate(CLASSES):
        files = sorted(glob.glob(f"{ROOT}/{domain}/{c}/*.png"))
        first += [i < int(0.6 * len(files)) for i in range(len(files))]
        x += [io.read_image(f) for f in files]
        y += [k] * len(files)
    return (torch.stack(x).float() / 255 - 0.5) / 0.5, torch.tensor(y), torch.tensor(first)


def net():
    layers, cin = [], 3
    for cout in (32, 64, 128):
        layers += [nn.Conv2d(cin, cout, 5, padding=2, bias=False), nn.BatchNorm2d(cout, affine=False),
                   nn.LeakyReLU(0.1), nn.MaxPool2d(2)]
        cin = cout
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(128 * 16, 32, bias=False))


def train(x, seed=0):
    torch.manual_seed(seed)
    f = net()
    opt = torch.optim.Adam(f.parameters(), 1e-3, weight_decay=1e-6)
    f.eval()
    with torch.no_grad():
        c = f(x).mean(0)
    c[(c.abs() < 0.1) & (c < 0)] = -0.1
    c[(c.abs() < 0.1) & (c >= 0)] = 0.1
    f.train()
    for _ in range(EPOCHS):
        for idx in torch.randperm(len(x)).split(64):
            loss = ((f(x[idx]) - c) ** 2).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return f.eval(), c


def auroc(model, x, y, k):
    f, c = model
    with torch.no_grad():
        score = ((f(x) - c) ** 2).sum(1).numpy()
    return roc_auc_score((y != k).numpy(), score)


def main():
    xs, ys, fs = load("source")
    xt, yt, ft = load("target")
    rows = []
    for k, name in enumerate(CLASSES):
        src = train(xs[(ys == k) & fs])
        tgt = train(xt[(yt == k) & ft])
        row = (auroc(src, xs[~fs], ys[~fs], k), auroc(src, xt, yt, k), auroc(tgt, xt[~ft], yt[~ft], k))
        rows.append(row)
        print(f"{name:10s} source->source {row[0]:.3f}  source->target {row[1]:.3f}  target->target {row[2]:.3f}",
              flush=True)
    m = np.mean(rows, 0)
    print(f"{'mean':10s} source->source {m[0]:.3f}  source->target {m[1]:.3f}  target->target {m[2]:.3f}")


if __name__ == "__main__":
    main()
