#!/usr/bin/env python3
"""Images/s of torchvision's MobileNetV2 (random weights, 224 px, no classifier) under
PyTorch's own inference optimisations, to decide whether shiftad's scorer should go
through TorchScript: eager channels-last against torch.jit.freeze +
torch.jit.optimize_for_inference (oneDNN layouts and fusions), at batch 1 and 64.

  /usr/bin/python3 bench/torchscript_frozen.py [--threads 2]
"""
import argparse
import time

import torch
import torchvision


def rate(f, batch, n):
    x = torch.randn(batch, 3, 224, 224)
    with torch.inference_mode():
        f(x)  # warm-up: primitive creation, first-touch of the activations
        t, k = time.perf_counter(), 0
        while k < n:
            f(x)
            k += batch
        return k / (time.perf_counter() - t)


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--threads", type=int, default=2)
    args = a.parse_args()
    torch.set_num_threads(args.threads)
    net = torchvision.models.mobilenet_v2().eval()
    net.classifier = torch.nn.Identity()
    with torch.no_grad():
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(net)))
        eager = net.to(memory_format=torch.channels_last)
    print("| PyTorch path | batch 1 | batch 64 |\n|---|---|---|")
    for name, f in (("eager, channels-last", lambda x: eager(x.contiguous(memory_format=torch.channels_last))),
                    ("frozen + optimize_for_inference", frozen)):
        print(f"| {name} | {rate(f, 1, 64):.1f} | {rate(f, 64, 192):.1f} |")


if __name__ == "__main__":
    main()
