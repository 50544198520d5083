#!/usr/bin/env python3
"""Oracle for the synthetic benchmark (src/data/Synth.cpp): the domain gap it claims,
measured independently on the written PNGs.

usage: data_synth_shift_check.py stats ROOT
    Pixel statistics of each domain of a writeSynth output (ROOT/{source,target}/CLASS/*.png),
    one "DOMAIN KEY VALUE" line each (read by tests/data/SynthTest.cpp). Each
    measures one stated property of a camera from the images alone:
      wb_b_over_r, wb_g_over_r  white balance: median over images of the background's
                                (border pixels') median blue / red and green / red.
                                The surfaces of both sites are neutral grey, so this is
                                the camera's gain ratio (glare goes through the same gains).
      surface                   median over images of the border's median luma (the surface
                                as the camera records it).
      falloff                   light fall-off: mean over images of |(right - left,
                                bottom - top)| / mean, from the median luma of the two
                                outermost columns / rows on each side (15/16 of the field
                                apart), i.e. 15/16 of the stated relative fall-off.
      noise                     sensor noise: median over images of the robust std
                                (1.4826 MAD) of a separable second difference
                                ([1 -2 1] x [1 -2 1]) in the border band, divided by 6.
      edge                      sharpness: median over images of the largest luma step
                                between neighbouring pixels over the part's contrast
                                (99th percentile luma minus the border's median).
      area_CLASS                scene: mean share of pixels whose red (3 x 3 box smoothed)
                                exceeds the border's by more than half the part's contrast
                                (the part's silhouette), per class.
usage: data_synth_shift_check.py train ROOT [EPOCHS]
    Manual check (not run by ctest: minutes of CPU). For each class as the normal class,
    a from-scratch Deep SVDD (3-conv CNN, bias-free, center with |c| >= 0.1) is trained
    on the first 60% of its source images and scored by AUROC on
      source->source: the remaining source images of all classes,
      source->target: every target image,
      target->target: the same detector trained on the first 60% of the target normals,
                      tested on the remaining target images.
    The benchmark is meant to give source->target well below source->source (the shift
    breaks source-only) while target->target shows the class is learnable in the target.
"""
import glob
import sys

import numpy as np


def images(root, domain):
    from PIL import Image
    out = {}
    for d in sorted(glob.glob(f"{root}/{domain}/*")):
        out[d.split("/")[-1]] = [np.asarray(Image.open(f).convert("RGB"), dtype=np.float64)
                                 for f in sorted(glob.glob(d + "/*.png"))]
    return out


def luma(rgb):
    return rgb @ np.array([0.299, 0.587, 0.114])


def border(a, w=2):
    return np.concatenate([a[:w].reshape(-1, *a.shape[2:]), a[-w:].reshape(-1, *a.shape[2:]),
                           a[w:-w, :w].reshape(-1, *a.shape[2:]), a[w:-w, -w:].reshape(-1, *a.shape[2:])])


def stats(root):
    for domain in ("source", "target"):
        by_class = images(root, domain)
        wb_b, wb_g, surface, falloff, noise, edge = [], [], [], [], [], []
        for cls, imgs in by_class.items():
            area = []
            for im in imgs:
                b = np.median(border(im), axis=0)
                wb_b.append(b[2] / b[0])
                wb_g.append(b[1] / b[0])
                y = luma(im)
                left, right = np.median(y[:, :2]), np.median(y[:, -2:])
                top, bottom = np.median(y[:2]), np.median(y[-2:])
                bg = np.median(border(y))
                surface.append(bg)
                falloff.append(np.hypot(right - left, bottom - top) / ((left + right + top + bottom) / 4))
                # [1 -2 1] x [1 -2 1]: white noise of std s gives std 6 s; a smooth surface
                # (gradient, the mat's 6 px crosshatch after the defocus) gives almost nothing.
                hf = (im[:-2] - 2 * im[1:-1] + im[2:])
                hf = hf[:, :-2] - 2 * hf[:, 1:-1] + hf[:, 2:]
                band = border(hf).reshape(-1)
                noise.append(1.4826 * np.median(np.abs(band - np.median(band))) / 6)
                contrast = np.percentile(y, 99) - bg
                step = max(np.abs(y[:, 1:] - y[:, :-1]).max(), np.abs(y[1:] - y[:-1]).max())
                edge.append(step / contrast)
                # The red channel, where the warm part stands out most at both sites, 3 x 3 box
                # smoothed (noise; the mat's crosshatch).
                red = im[..., 0]
                red = sum(np.pad(red, 1, mode="edge")[i:i + red.shape[0], j:j + red.shape[1]]
                          for i in range(3) for j in range(3)) / 9
                red_bg = np.median(border(red))
                area.append(np.mean(red - red_bg > (np.percentile(red, 99) - red_bg) / 2))
            print(f"{domain} area_{cls} {np.mean(area):.5f}")
        print(f"{domain} wb_b_over_r {np.median(wb_b):.5f}")
        print(f"{domain} wb_g_over_r {np.median(wb_g):.5f}")
        print(f"{domain} surface {np.median(surface):.5f}")
        print(f"{domain} falloff {np.mean(falloff):.5f}")
        print(f"{domain} noise {np.median(noise):.5f}")
        print(f"{domain} edge {np.median(edge):.5f}")


def train_check(root, epochs):
    import torch
    import torch.nn as nn
    import torchvision.io as io
    from sklearn.metrics import roc_auc_score

    torch.set_num_threads(1)
    classes = sorted(p.split("/")[-1] for p in glob.glob(root + "/source/*"))

    def load(domain):
        x, y, first = [], [], []
        for k, c in enumerate(classes):
            files = sorted(glob.glob(f"{root}/{domain}/{c}/*.png"))
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
        for _ in range(epochs):
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

    xs, ys, fs = load("source")
    xt, yt, ft = load("target")
    rows = []
    for k, name in enumerate(classes):
        src = train(xs[(ys == k) & fs])
        tgt = train(xt[(yt == k) & ft])
        row = (auroc(src, xs[~fs], ys[~fs], k), auroc(src, xt, yt, k), auroc(tgt, xt[~ft], yt[~ft], k))
        rows.append(row)
        print(f"{name:10s} source->source {row[0]:.3f}  source->target {row[1]:.3f}  target->target {row[2]:.3f}",
              flush=True)
    m = np.mean(rows, 0)
    print(f"{'mean':10s} source->source {m[0]:.3f}  source->target {m[1]:.3f}  target->target {m[2]:.3f}")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "stats":
        stats(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "train":
        train_check(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 20)
    else:
        sys.exit(__doc__)
