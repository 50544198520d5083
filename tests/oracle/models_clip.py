#!/usr/bin/env python3
"""Reference for shiftad's CLIP visual towers: a re-implementation of the visual
parts of OpenAI's clip/model.py (VisionTransformer, ModifiedResNet with its
anti-aliased Bottleneck and AttentionPool2d), same module names and math.

  models_clip.py weights vit|rn OUT_DIR [key=value ...]
      random weights (LayerNorm/BatchNorm affine and BN statistics randomised, every
      bias non-zero) -> OUT_DIR/weights.safetensors: the tower's state dict under
      "visual." plus two text-tower tensors that a loader must ignore;
      OUT_DIR/io.safetensors: input (2 x 3 x R x R) and trunk (the image embedding),
      eval mode. key=value override the tower's arguments (defaults: ViT-B/32 and
      RN50), e.g. width=64 layers=2 heads=4 patch_size=16 input_resolution=64
      output_dim=32 for vit, layers=1,1,1,1 for rn.
  models_clip.py names OUT_DIR
      OUT_DIR/vit_names.json, OUT_DIR/rn_names.json: {name: shape} of the state dicts
      (no "visual." prefix) of the full ViT-B/32 and RN50; no weights written.
"""
import json
import os
import sys
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from st_write import save_file

VIT_DEFAULTS = dict(input_resolution=224, patch_size=32, width=768, layers=12, heads=12, output_dim=512)
RN_DEFAULTS = dict(layers=(3, 4, 6, 3), width=64, heads=32, output_dim=1024, input_resolution=224)


# ---- VisionTransformer ----

class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(width, width * 4)),
            ("gelu", QuickGELU()),
            ("c_proj", nn.Linear(width * 4, width)),
        ]))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x):  # L x N x D, as OpenAI's
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads):
        super().__init__()
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads) for _ in range(layers)])

    def forward(self, x):
        return self.resblocks(x)


class VisionTransformer(nn.Module):
    def __init__(self, input_resolution, patch_size, width, layers, heads, output_dim):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size, bias=False)
        scale = width ** -0.5
        grid = input_resolution // patch_size
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def forward(self, x):
        x = self.conv1(x)
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)  # N x grid^2 x width
        cls = self.class_embedding + torch.zeros(x.shape[0], 1, x.shape[-1])
        x = torch.cat([cls, x], dim=1) + self.positional_embedding
        x = self.ln_pre(x)
        x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)  # via L x N x D
        return self.ln_post(x[:, 0, :]) @ self.proj


# ---- ModifiedResNet ----

class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = None
        if stride > 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(OrderedDict([
                ("-1", nn.AvgPool2d(stride)),
                ("0", nn.Conv2d(inplanes, planes * 4, 1, stride=1, bias=False)),
                ("1", nn.BatchNorm2d(planes * 4)),
            ]))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(self.avgpool(out)))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class AttentionPool2d(nn.Module):
    def __init__(self, spacial_dim, embed_dim, num_heads, output_dim):
        super().__init__()
        self.positional_embedding = nn.Parameter(torch.randn(spacial_dim ** 2 + 1, embed_dim) / embed_dim ** 0.5)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.c_proj = nn.Linear(embed_dim, output_dim)
        self.num_heads = num_heads

    def forward(self, x):
        x = x.flatten(2).permute(2, 0, 1)  # (HW) x N x C
        x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)
        x = x + self.positional_embedding[:, None, :]
        x, _ = F.multi_head_attention_forward(
            query=x, key=x, value=x, embed_dim_to_check=x.shape[-1], num_heads=self.num_heads,
            q_proj_weight=self.q_proj.weight, k_proj_weight=self.k_proj.weight, v_proj_weight=self.v_proj.weight,
            in_proj_weight=None, in_proj_bias=torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias]),
            bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.0,
            out_proj_weight=self.c_proj.weight, out_proj_bias=self.c_proj.bias,
            use_separate_proj_weight=True, training=self.training, need_weights=False)
        return x[0]


class ModifiedResNet(nn.Module):
    def __init__(self, layers, output_dim, heads, input_resolution, width):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width // 2, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.conv2 = nn.Conv2d(width // 2, width // 2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width // 2)
        self.conv3 = nn.Conv2d(width // 2, width, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.avgpool = nn.AvgPool2d(2)
        self._inplanes = width
        self.layer1 = self._make_layer(width, layers[0])
        self.layer2 = self._make_layer(width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(width * 8, layers[3], stride=2)
        self.attnpool = AttentionPool2d(input_resolution // 32, width * 32, heads, output_dim)

    def _make_layer(self, planes, blocks, stride=1):
        layers = [Bottleneck(self._inplanes, planes, stride)]
        self._inplanes = planes * 4
        layers += [Bottleneck(self._inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2), (self.conv3, self.bn3)):
            x = F.relu(bn(conv(x)))
        x = self.avgpool(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.attnpool(x)


# ---- driver ----

def parse_params(tower, pairs):
    params = dict(VIT_DEFAULTS if tower == "vit" else RN_DEFAULTS)
    for pair in pairs:
        key, value = pair.split("=", 1)
        if key not in params:
            sys.exit(f"unknown parameter {key} for {tower}")
        params[key] = tuple(int(v) for v in value.split(",")) if key == "layers" and tower == "rn" else int(value)
    return params


def build(tower, params):
    if tower == "vit":
        return VisionTransformer(**params)
    return ModifiedResNet(**params)


def randomise(net):
    """Every affine, bias and BN statistic away from its default, so that a tensor
    loaded under a wrong name, or an op left out, changes the output."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.LayerNorm, nn.BatchNorm2d)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
            if isinstance(m, nn.Linear) and m.bias is not None:
                m.bias.uniform_(-0.1, 0.1)
            if isinstance(m, nn.MultiheadAttention):
                m.in_proj_bias.uniform_(-0.1, 0.1)


def without_init():
    """Construction without random initialisation (names and shapes only): the full
    towers' ~120M random numbers would dominate the test's time."""
    torch.randn = lambda *shape, **kw: torch.empty(*shape, **kw)
    for cls in (nn.Linear, nn.Conv2d, nn.LayerNorm, nn.BatchNorm2d):
        cls.reset_parameters = lambda self: None
    nn.MultiheadAttention._reset_parameters = lambda self: None


def write_names(out):
    without_init()
    for tower in ("vit", "rn"):
        net = build(tower, parse_params(tower, []))
        with open(os.path.join(out, f"{tower}_names.json"), "w") as f:
            json.dump({k: list(v.shape) for k, v in net.state_dict().items()}, f)


def write_weights(tower, out, pairs):
    params = parse_params(tower, pairs)
    torch.manual_seed(0)
    net = build(tower, params).eval()
    randomise(net)
    # num_batches_tracked included, as in OpenAI's checkpoints.
    weights = {"visual." + k: v for k, v in net.state_dict().items()}
    # Text-tower tensors of a full CLIP checkpoint, outside "visual.".
    weights["token_embedding.weight"] = torch.randn(10, 8)
    weights["logit_scale"] = torch.tensor(4.6052)
    save_file(weights, os.path.join(out, "weights.safetensors"))
    side = params["input_resolution"]
    x = torch.randn(2, 3, side, side)
    with torch.no_grad():
        y = net(x)
    save_file({"input": x, "trunk": y}, os.path.join(out, "io.safetensors"))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "names":
        write_names(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "weights" and sys.argv[2] in ("vit", "rn"):
        write_weights(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
