"""Oracle for src/losses mmdLoss: multi-kernel Gaussian MMD^2 written out in PyTorch
(float64) with explicit differences, on a fixed input defined by formula (rebuilt
identically in MmdOracleTest.cpp).

Usage: math_mmd.py NS NT D CASE...   with CASE = N_KERNELS:MULT:{biased,unbiased}
Prints a JSON list, one entry per case: {"n_kernels", "mult", "unbiased", "loss", "grad_xs", "grad_xt"}.
"""
import json
import math
import sys

import torch


def features(n, d, phase):
    i = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    k = torch.arange(d, dtype=torch.float64).unsqueeze(0)
    return torch.sin(0.9 * i + 1.7 * k + phase) + 0.3 * torch.cos(2.3 * i * k + phase)


def mmd2(xs, xt, n_kernels, mult, unbiased):
    z = torch.cat([xs, xt])
    m, ns = z.shape[0], xs.shape[0]
    d2 = (z[:, None, :] - z[None, :, :]).pow(2).sum(-1)
    rows, cols = torch.triu_indices(m, m, 1)
    median = d2.detach()[rows, cols].median()  # lower median, no gradient
    lowest = -(n_kernels // 2)
    k = sum(torch.exp(-d2 / (2 * median * mult ** j)) for j in range(lowest, lowest + n_kernels))
    kss, ktt, kst = k[:ns, :ns], k[ns:, ns:], k[:ns, ns:]

    def within(block):
        n = block.shape[0]
        if not unbiased:
            return block.sum() / (n * n)
        return (block.sum() - block.trace()) / (n * (n - 1))

    return within(kss) + within(ktt) - 2 * kst.sum() / (kst.shape[0] * kst.shape[1])


def main():
    ns, nt, d = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    out = []
    for case in sys.argv[4:]:
        n_kernels, mult, kind = case.split(":")
        n_kernels, mult, unbiased = int(n_kernels), float(mult), kind == "unbiased"
        xs = features(ns, d, 0.0).requires_grad_(True)
        xt = (features(nt, d, 0.4) + 0.3).requires_grad_(True)
        loss = mmd2(xs, xt, n_kernels, mult, unbiased)
        loss.backward()
        assert math.isfinite(loss.item())
        out.append({"n_kernels": n_kernels, "mult": mult, "unbiased": unbiased, "loss": loss.item(),
                    "grad_xs": xs.grad.tolist(), "grad_xt": xt.grad.tolist()})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
