#!/usr/bin/env python3
"""TorchScript encoders that do not fit encoder.path, for the error-message tests
(tests/integration/ErrorsTest.cpp, tests/models/FrozenEncoderTest.cpp).

  errors_tuple_encoder.py OUT_DIR   writes OUT_DIR/tuple_encoder.pt: N x 3 x 32 x 32 ->
                                    (N x 8, N x 8 x 16 x 16), as many exported models
                                    return; and OUT_DIR/gray_encoder.pt, which takes
                                    1-channel images only (fails on RGB); and
                                    OUT_DIR/nan_encoder.pt, whose features of every other
                                    image are NaN
"""
import os
import sys

import torch


class TupleEncoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)

    def forward(self, x):
        m = torch.relu(self.conv(x / 255.0))
        return m.mean(dim=(2, 3)), m


class GrayEncoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 8, 3)

    def forward(self, x):
        return self.conv(x).mean(dim=(2, 3))


class NanEncoder(torch.nn.Module):
    def forward(self, x):
        f = x.mean(dim=(2, 3))
        odd = (torch.arange(x.shape[0]) % 2 == 1).unsqueeze(1)
        return torch.where(odd, f * float("nan"), f)


torch.manual_seed(0)
torch.jit.script(TupleEncoder().eval()).save(os.path.join(sys.argv[1], "tuple_encoder.pt"))
torch.jit.script(GrayEncoder().eval()).save(os.path.join(sys.argv[1], "gray_encoder.pt"))
torch.jit.script(NanEncoder().eval()).save(os.path.join(sys.argv[1], "nan_encoder.pt"))
