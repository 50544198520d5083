#!/usr/bin/env python3
"""The Python reference of one shiftad run, written the way PyTorch users write it:
torch.utils.data.DataLoader with worker processes, PIL decoding, torchvision
transforms, torchvision's MobileNetV2 with the same ImageNet weights, the same
bias-free head, Deep SVDD center, batch size, epochs, losses and optimizer as the
shiftad config it mirrors (bench/run_benchmarks.py writes both). Prints one JSON line
with its wall times and the test AUROC.

  reference_train.py --lists DIR --weights W.safetensors [--epochs 3 --batch-size 64 ...]

DIR holds source.txt, pool.txt and test.txt ("path<TAB>label" lines) written by
`shiftad_bench split` from the same config, so both train on the same images.
Run with Debian's /usr/bin/python3 (python3-torch, python3-torchvision, python3-sklearn).
"""
import argparse
import json
import os
import resource
import struct
import sys
import time

T0 = time.perf_counter()

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from sklearn.metrics import roc_auc_score
from torch.utils.data import DataLoader, Dataset, RandomSampler
from torchvision import transforms

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "oracle"))
from tf_padding import tf_same  # noqa: E402  (one Python reference of TF padding)


DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32}


def read_safetensors(path):
    """The tensors of a safetensors file (the format of ../shared/weights)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        dtype = np.dtype(DTYPES[info["dtype"]])
        begin, end = info["data_offsets"]
        values = np.frombuffer(blob, dtype, (end - begin) // dtype.itemsize, 8 + n + begin).copy()
        out[name] = torch.from_numpy(values).view(info["shape"])
    return out


class Detector(torch.nn.Module):
    """F = bias-free linear head on MobileNetV2's pooled features."""

    def __init__(self, weights, embedding_dim):
        super().__init__()
        net = torchvision.models.mobilenet_v2(weights=None, num_classes=1001)
        state = read_safetensors(weights)
        net.load_state_dict(state, strict=False)
        tf_same(net)  # the weights were trained with TensorFlow padding (model.padding: tf_same)
        self.features = net.features
        self.head = torch.nn.Linear(1280, embedding_dim, bias=False)

    def forward(self, x):
        return self.head(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


class Files(Dataset):
    def __init__(self, list_file, transform):
        with open(list_file) as f:
            rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
        self.paths = [r[0] for r in rows]
        self.labels = [int(r[1]) for r in rows]
        self.transform = transform

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with Image.open(self.paths[i]) as im:
            return self.transform(im.convert("RGB"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lists", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=46)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-6)
    ap.add_argument("--embedding-dim", type=int, default=128)
    ap.add_argument("--svdd-eps", type=float, default=0.1)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--crop-scale-min", type=float, default=0.7)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    s = a.image_size
    norm = transforms.Normalize([0.50196] * 3, [0.50196] * 3)
    train_tf = transforms.Compose([transforms.Resize((s, s)), transforms.RandomResizedCrop(s, scale=(a.crop_scale_min, 1.0)),
                                   transforms.RandomHorizontalFlip(), transforms.ToTensor(), norm])
    eval_tf = transforms.Compose([transforms.Resize((s, s)), transforms.ToTensor(), norm])
    source = Files(os.path.join(a.lists, "source.txt"), train_tf)
    pool = Files(os.path.join(a.lists, "pool.txt"), train_tf)
    test = Files(os.path.join(a.lists, "test.txt"), eval_tf)
    loader = dict(num_workers=a.workers, persistent_workers=a.workers > 0)
    source_dl = DataLoader(source, batch_size=a.batch_size, shuffle=True, **loader)
    # Target batches of the source batch's size, drawn from the pool with replacement.
    pool_dl = DataLoader(pool, batch_size=a.batch_size,
                         sampler=RandomSampler(pool, replacement=True, num_samples=len(source) * a.epochs * 2), **loader)
    net = Detector(a.weights, a.embedding_dim)
    t_setup = time.perf_counter()

    # Deep SVDD center: mean of F's initial source features (training-mode BatchNorm,
    # un-augmented images), coordinates below eps pushed to +-eps.
    with torch.no_grad():
        net.train()
        center_dl = DataLoader(Files(os.path.join(a.lists, "source.txt"), eval_tf), batch_size=256, **loader)
        c = torch.cat([net(x) for x in center_dl]).mean(0)
        c[(c.abs() < a.svdd_eps) & (c < 0)] = -a.svdd_eps
        c[(c.abs() < a.svdd_eps) & (c >= 0)] = a.svdd_eps

    opt = torch.optim.Adam(net.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    pool_it = iter(pool_dl)
    images = 0
    t_train = time.perf_counter()
    for _ in range(a.epochs):
        net.train()
        for xs in source_dl:
            if len(xs) < 2:
                continue
            xt = next(pool_it)[: len(xs)]
            z = net(torch.cat([xs, xt]))
            zt = z[len(xs):]
            # Deep SVDD on source and aligned target + prototype alignment (shiftad's
            # align.method prototype, align.svdd_on_target, lambda 1).
            loss = ((z - c) ** 2).sum(1).mean() + ((zt - c) ** 2).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            images += len(z)
    t_eval = time.perf_counter()
    net.eval()
    with torch.no_grad():
        scores = torch.cat([((net(x) - c) ** 2).sum(1) for x in DataLoader(test, batch_size=256, **loader)])
    auroc = roc_auc_score(test.labels, scores.numpy())
    t_end = time.perf_counter()
    print(json.dumps({
        "bench": "reference", "impl": "python", "seconds": t_end - T0, "setup_seconds": t_setup - T0,
        "train_seconds": t_eval - t_train, "train_images_per_s": images / (t_eval - t_train),
        "eval_seconds": t_end - t_eval, "auroc": auroc, "torch": torch.__version__,
        "peak_rss_mib_main": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    sys.exit(main())
