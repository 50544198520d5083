#!/usr/bin/env python3
"""Reference for shiftad's ResNet-18: torchvision's resnet18 with random weights and
randomised BatchNorm statistics, eval mode.

  models_resnet.py OUT_DIR   writes OUT_DIR/weights.safetensors (torchvision names,
                             without fc.*, with num_batches_tracked) and
                             OUT_DIR/io.safetensors (input 2x3x64x64,
                             output = pooled 512-d features before fc)
"""
import os
import sys

import torch
import torchvision

from st_write import save_file

torch.manual_seed(0)
out = sys.argv[1]
net = torchvision.models.resnet18(weights=None)
with torch.no_grad():
    for name, m in net.named_modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.2, 0.2)
net.fc = torch.nn.Identity()
net.eval()
# Full state dict, num_batches_tracked included, as published torchvision files are
# (st_write stores it as F32; the loader converts it to the module's int64).
state = dict(net.state_dict())
save_file(state, os.path.join(out, "weights.safetensors"))
x = torch.randn(2, 3, 64, 64)
with torch.no_grad():
    y = net(x)
save_file({"input": x, "output": y}, os.path.join(out, "io.safetensors"))
