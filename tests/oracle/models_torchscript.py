#!/usr/bin/env python3
"""A small frozen image encoder as TorchScript, for the encoder and cache tests.

  models_torchscript.py OUT_DIR   writes OUT_DIR/encoder.pt (traced; takes N x 3 x 32 x 32
                                  float pixels in [0,255], normalizes inside, returns N x 8)
                                  and OUT_DIR/io.safetensors (input 3 x 3 x 32 x 32 integer
                                  pixel values as F32, output of the module)
"""
import os
import sys

import torch

from st_write import save_file


class Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)

    def forward(self, x):
        x = (x / 255.0 - 0.5) / 0.5
        return torch.relu(self.conv(x)).mean(dim=(2, 3))


torch.manual_seed(0)
out = sys.argv[1]
enc = Encoder().eval()
traced = torch.jit.trace(enc, torch.rand(1, 3, 32, 32) * 255)
traced.save(os.path.join(out, "encoder.pt"))
x = torch.randint(0, 256, (3, 3, 32, 32)).float()
with torch.no_grad():
    y = enc(x)
save_file({"input": x, "output": y}, os.path.join(out, "io.safetensors"))
