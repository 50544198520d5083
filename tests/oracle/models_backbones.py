#!/usr/bin/env python3
"""Reference for shiftad's ResNet-18/50 and MobileNetV2: torchvision's models with random
weights and randomised BatchNorm statistics, eval mode.

  models_backbones.py resnet18|resnet50 OUT_DIR
  models_backbones.py mobilenet_v2 OUT_DIR symmetric|tf_same

writes OUT_DIR/weights.safetensors (torchvision names, num_batches_tracked included;
the ResNets without fc.*, the MobileNetV2 with a 10-class classifier.1 and
__metadata__ {"padding": mode}) and
OUT_DIR/io.safetensors: input_S (2x3xSxS), trunk_S (pooled features before the
classifier) and, for MobileNetV2, logits_S, for S = 64 and, for tf_same, also the odd
S = 67 (where TF 'SAME' pads a stride-2 conv (1,1) instead of (0,1)).
For MobileNetV2 also a training-mode step in float64 on input_64: train_trunk_64 (batch
statistics), the loss sum(trunk * train_probe_64) and its gradients grad.NAME for a few
parameters (torchvision's ReLU6 gradient, zero where the result is 0 or 6), all F64.
Float64, because batch statistics over 2 images at 64 px are ill-conditioned: float32
gradients of the same network differ by 0.1-0.5% between memory layouts.
"""
import os
import sys

import torch
import torch.nn.functional as F
import torchvision

from st_write import save_file
from tf_padding import tf_same


def randomise_bn(net):
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)


def trunk(net, x):
    if isinstance(net, torchvision.models.MobileNetV2):
        return F.adaptive_avg_pool2d(net.features(x), 1).flatten(1)
    return net(x)  # resnet with fc = Identity


torch.manual_seed(0)
arch, out = sys.argv[1], sys.argv[2]
metadata = None
sizes = [64]
if arch in ("resnet18", "resnet50"):
    net = getattr(torchvision.models, arch)(weights=None)
    net.fc = torch.nn.Identity()
elif arch == "mobilenet_v2":
    mode = sys.argv[3]
    net = torchvision.models.mobilenet_v2(weights=None, num_classes=10)
    with torch.no_grad():  # torchvision inits the classifier bias to 0; make it count
        net.classifier[1].bias.uniform_(-0.5, 0.5)
    metadata = {"padding": mode}
    if mode == "tf_same":
        tf_same(net)
        sizes = [64, 67]
else:
    sys.exit(f"unknown arch {arch}")
randomise_bn(net)
net.eval()
# Full state dict, num_batches_tracked included, as published torchvision files are
# (st_write stores it as F32; the loader converts it to the module's int64).
state = dict(net.state_dict())
save_file(state, os.path.join(out, "weights.safetensors"), metadata)
io = {}
with torch.no_grad():
    for s in sizes:
        x = torch.randn(2, 3, s, s)
        io[f"input_{s}"] = x
        io[f"trunk_{s}"] = trunk(net, x)
        if arch == "mobilenet_v2":
            io[f"logits_{s}"] = net(x)
if arch == "mobilenet_v2":  # after the eval-mode outputs: training updates running stats
    GRADS = ["features.0.0.weight", "features.0.1.weight", "features.4.conv.1.0.weight",
             "features.17.conv.0.1.bias", "features.18.0.weight"]
    net.train().double()
    y = trunk(net, io["input_64"].double())
    probe = torch.randn(y.shape, dtype=torch.float64)
    (y * probe).sum().backward()
    params = dict(net.named_parameters())
    io["train_trunk_64"] = y.detach()
    io["train_probe_64"] = probe
    for name in GRADS:
        io["grad." + name] = params[name].grad
save_file(io, os.path.join(out, "io.safetensors"))
