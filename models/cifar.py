"""The small networks the knowledge-distillation literature benchmarks on 32 px images
(CIFAR-100 in CRD, DKD and their successors): ResNets without the ImageNet stem (a 3x3
convolution, three stages of basic blocks at strides 1, 2, 2) and wide ResNets
(pre-activation blocks). Written from their definitions (He et al. 2016, section 4.2;
Zagoruyko & Komodakis 2016); each returns its last feature map [B, F, H/4, W/4] for the
label-embedding head."""
from torch import nn


def _conv3x3(c_in, c_out, stride=1):
    return nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)


def _stages(block, widths, n):
    """Three stages of n blocks after a stem of widths[0] channels: stage i has widths[i + 1]
    channels; the first block of stages 2 and 3 halves the resolution."""
    layers = []
    for stage, width in enumerate(widths[1:]):
        for i in range(n):
            layers.append(block(widths[stage] if i == 0 else width, width, 2 if stage > 0 and i == 0 else 1))
    return layers


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm; the shortcut is a 1x1 projection where the
    shape changes."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1, self.bn1 = _conv3x3(c_in, c_out, stride), nn.BatchNorm2d(c_out)
        self.conv2, self.bn2 = _conv3x3(c_out, c_out), nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class _Trunk(nn.Module):
    """The layers in sequence, convolutions Kaiming-initialised (fan-out) as in both papers."""

    def __init__(self, layers, out_channels):
        super().__init__()
        self.body = nn.Sequential(*layers)
        self.out_channels = out_channels
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        return self.body(x)


class CifarResNet(_Trunk):
    """depth = 6n + 2: n basic blocks per stage; widths (stem, stage 1, stage 2, stage 3)."""

    def __init__(self, depth, widths=(16, 16, 32, 64)):
        if (depth - 2) % 6:
            raise ValueError(f"a CIFAR ResNet has depth 6n + 2, got {depth}")
        stem = [_conv3x3(3, widths[0]), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)]
        super().__init__([*stem, *_stages(BasicBlock, widths, (depth - 2) // 6)], widths[-1])


class PreActBlock(nn.Module):
    """Wide ResNet block: BN-ReLU-conv twice; a 1x1 projection where the shape changes."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(c_in), _conv3x3(c_in, c_out, stride)
        self.bn2, self.conv2 = nn.BatchNorm2d(c_out), _conv3x3(c_out, c_out)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Conv2d(c_in, c_out, 1, stride, bias=False)

    def forward(self, x):
        pre = self.relu(self.bn1(x))
        out = self.conv2(self.relu(self.bn2(self.conv1(pre))))
        return out + (x if self.shortcut is None else self.shortcut(pre))


class WideResNet(_Trunk):
    """WRN-depth-k: depth = 6n + 4, stage widths 16k, 32k, 64k; a final BN-ReLU."""

    def __init__(self, depth, widen):
        if (depth - 4) % 6:
            raise ValueError(f"a wide ResNet has depth 6n + 4, got {depth}")
        widths = (16, 16 * widen, 32 * widen, 64 * widen)
        super().__init__([_conv3x3(3, widths[0]), *_stages(PreActBlock, widths, (depth - 4) // 6),
                          nn.BatchNorm2d(widths[-1]), nn.ReLU(inplace=True)], widths[-1])


# name: builder. resnet8x4 / resnet32x4: four times the widths, as CRD defines them.
CIFAR_BACKBONES = {
    **{f"resnet{d}": (lambda d=d: CifarResNet(d)) for d in (8, 14, 20, 32, 44, 56, 110)},
    "resnet8x4": lambda: CifarResNet(8, (32, 64, 128, 256)),
    "resnet32x4": lambda: CifarResNet(32, (32, 64, 128, 256)),
    "wrn_16_2": lambda: WideResNet(16, 2),
    "wrn_40_2": lambda: WideResNet(40, 2),
}
