#!/usr/bin/env python3
"""A TorchScript encoder that returns a tuple (features, pooled map), as many exported
models do, for the error-message test (tests/integration/test_errors.cpp).

  errors_tuple_encoder.py OUT_DIR   writes OUT_DIR/tuple_encoder.pt: N x 3 x 32 x 32 ->
                                    (N x 8, N x 8 x 16 x 16)
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


torch.manual_seed(0)
torch.jit.script(TupleEncoder().eval()).save(os.path.join(sys.argv[1], "tuple_encoder.pt"))
