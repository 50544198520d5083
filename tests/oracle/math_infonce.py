"""Oracle for src/losses infoNceLoss: NT-Xent written the SimCLR way in PyTorch (float64),
on a fixed input defined by formula (rebuilt identically in LossesOracleTest.cpp).

Usage: math_infonce.py N D TAU...
Prints a JSON list, one entry per tau: {"tau", "loss", "grad_zs", "grad_zt"}.
"""
import json
import math
import sys

import torch


def features(n, d, phase):
    i = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    k = torch.arange(d, dtype=torch.float64).unsqueeze(0)
    return torch.sin(0.9 * i + 1.7 * k + phase) + 0.3 * torch.cos(2.3 * i * k + phase)


def nt_xent(zs, zt, tau):
    n = zs.shape[0]
    z = torch.cat([zs, zt])
    z = z / z.norm(dim=1, keepdim=True)
    sim = z @ z.T / tau
    positives = torch.cat([torch.diagonal(sim, n), torch.diagonal(sim, -n)])
    others = ~torch.eye(2 * n, dtype=torch.bool)
    denominators = torch.stack([torch.logsumexp(sim[i][others[i]], dim=0) for i in range(2 * n)])
    return (denominators - positives).mean()


def main():
    n, d = int(sys.argv[1]), int(sys.argv[2])
    out = []
    for tau in map(float, sys.argv[3:]):
        zs = features(n, d, 0.0).requires_grad_(True)
        zt = features(n, d, 0.4).requires_grad_(True)
        loss = nt_xent(zs, zt, tau)
        loss.backward()
        assert math.isfinite(loss.item())
        out.append({"tau": tau, "loss": loss.item(), "grad_zs": zs.grad.tolist(), "grad_zt": zt.grad.tolist()})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
