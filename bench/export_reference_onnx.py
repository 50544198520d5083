#!/usr/bin/env python3
"""The ImageNet MobileNetV2 of ../shared/weights as an ONNX file for ONNX Runtime, the
yardstick of shiftad's scorer (docs/performance.md, "Scoring speed against ONNX
Runtime"): its TorchScript (RGB in [0, 255], normalisation inside, 1280-d pooled
features) exported by PyTorch's own exporter, opset 13, batch size free.

  /usr/bin/python3 bench/export_reference_onnx.py --shared ../shared --out /tmp/mobilenet_v2.onnx

Until `shiftad export` writes a detector's graph, this is the same network without the
128-d head and the distance to c (a 1280 x 128 product: 0.1% of the network's work).
"""
import argparse
import os

import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..",
                                                     "shared"))
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    net = torch.jit.load(os.path.join(a.shared, "weights", "mobilenet_v2_imagenet_features.torchscript.pt")).eval()
    x = torch.rand(1, 3, 224, 224) * 255
    torch.onnx.export(net, x, a.out, opset_version=13, input_names=["pixels"], output_names=["features"],
                      dynamic_axes={"pixels": {0: "n"}, "features": {0: "n"}})


if __name__ == "__main__":
    main()
