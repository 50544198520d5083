"""TensorFlow 'SAME' padding on a torchvision network, shared by the backbone oracle
(tests/oracle/models_backbones.py) and the PyTorch reference of the benchmarks
(bench/reference_train.py)."""
import math

import torch
import torch.nn.functional as F


def tf_same(net):
    """TensorFlow 'SAME' padding for strided convs, written independently of the C++
    code: a forward pre-hook pads ceil(size/stride) outputs' worth, extra pixel after,
    and the conv's own padding is set to 0. Module names are unchanged."""
    def hook(conv, args):
        (x,) = args
        pads = []
        for size, k, s in ((x.shape[3], conv.kernel_size[1], conv.stride[1]),
                           (x.shape[2], conv.kernel_size[0], conv.stride[0])):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return (F.pad(x, pads),)

    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d) and m.stride != (1, 1):
            m.padding = (0, 0)
            m.register_forward_pre_hook(hook)
