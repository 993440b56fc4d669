"""RepVGG (Ding et al., CVPR 2021): a VGG-style plain network trained with 3x3, 1x1 and
identity branches, fused after training into a single 3x3 convolution per block.
Parameter names follow the official implementation, so its ImageNet checkpoints
(RepVGG-A0-train.pth, ...) load directly."""
import torch
import torch.nn.functional as F
from torch import nn


def _conv_bn(in_channels, out_channels, kernel_size, stride, padding):
    branch = nn.Sequential()
    branch.add_module("conv", nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False))
    branch.add_module("bn", nn.BatchNorm2d(out_channels))
    return branch


def _fuse_bn(kernel, bn):
    """Fold a BatchNorm (eval statistics) into the preceding convolution's kernel and bias."""
    std = (bn.running_var + bn.eps).sqrt()
    scale = bn.weight / std
    return kernel * scale.reshape(-1, 1, 1, 1), bn.bias - bn.running_mean * scale


class RepVGGBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.in_channels = in_channels
        self.rbr_dense = _conv_bn(in_channels, out_channels, 3, stride, 1)
        self.rbr_1x1 = _conv_bn(in_channels, out_channels, 1, stride, 0)
        self.rbr_identity = nn.BatchNorm2d(in_channels) if in_channels == out_channels and stride == 1 else None
        self.rbr_reparam = None

    def forward(self, x):
        if self.rbr_reparam is not None:
            return F.relu(self.rbr_reparam(x))
        out = self.rbr_dense(x) + self.rbr_1x1(x)
        if self.rbr_identity is not None:
            out = out + self.rbr_identity(x)
        return F.relu(out)

    @torch.no_grad()
    def switch_to_deploy(self):
        kernel, bias = _fuse_bn(self.rbr_dense.conv.weight, self.rbr_dense.bn)
        k1, b1 = _fuse_bn(F.pad(self.rbr_1x1.conv.weight, [1, 1, 1, 1]), self.rbr_1x1.bn)
        kernel, bias = kernel + k1, bias + b1
        if self.rbr_identity is not None:
            identity = torch.zeros_like(kernel)
            identity[torch.arange(self.in_channels), torch.arange(self.in_channels), 1, 1] = 1
            ki, bi = _fuse_bn(identity, self.rbr_identity)
            kernel, bias = kernel + ki, bias + bi
        conv = self.rbr_dense.conv
        self.rbr_reparam = nn.Conv2d(conv.in_channels, conv.out_channels, 3, conv.stride, 1, bias=True)
        self.rbr_reparam.weight.copy_(kernel)
        self.rbr_reparam.bias.copy_(bias)
        self.rbr_dense = self.rbr_1x1 = self.rbr_identity = None


class RepVGG(nn.Module):
    """Backbone only: returns the last feature map; `out_channels` is its width."""

    def __init__(self, num_blocks, width_multiplier):
        super().__init__()
        widths = [int(w * m) for w, m in zip((64, 128, 256, 512), width_multiplier)]
        self.in_planes = min(64, widths[0])
        self.stage0 = RepVGGBlock(3, self.in_planes, stride=2)
        for i, (n, width) in enumerate(zip(num_blocks, widths), start=1):
            setattr(self, f"stage{i}", self._make_stage(width, n))
        self.out_channels = widths[-1]

    def _make_stage(self, width, n):
        blocks = []
        for stride in [2] + [1] * (n - 1):
            blocks.append(RepVGGBlock(self.in_planes, width, stride))
            self.in_planes = width
        return nn.Sequential(*blocks)

    def forward(self, x):
        for i in range(5):
            x = getattr(self, f"stage{i}")(x)
        return x


def repvgg_a0():
    return RepVGG([2, 4, 14, 1], [0.75, 0.75, 0.75, 2.5])


def repvgg_a2():
    return RepVGG([2, 4, 14, 1], [1.5, 1.5, 1.5, 2.75])


def repvgg_deploy(model):
    """Fuse every RepVGG block of `model` in place (after training, in eval mode)."""
    for module in model.modules():
        if isinstance(module, RepVGGBlock) and module.rbr_reparam is None:
            module.switch_to_deploy()
    return model
