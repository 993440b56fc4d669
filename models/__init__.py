"""Backbone registry (torchvision's networks and those written here), and the multi-label
network (backbone + label-embedding head) every stage trains."""
import os

import torch
from torch import nn

from models.cifar import CIFAR_BACKBONES
from models.head import LabelEmbeddingHead
from models.repvgg import repvgg_a0, repvgg_a2, repvgg_deploy
from utils import UserError

# name: (torchvision's builder of the ImageNet classifier, its weights enum), looked up when
# a network is built: importing torchvision takes seconds that a run of the 32 px networks
# (and every process of the tools) need not pay.
TORCHVISION = {
    "resnet18": ("resnet18", "ResNet18_Weights"),
    "resnet34": ("resnet34", "ResNet34_Weights"),
    "resnet50": ("resnet50", "ResNet50_Weights"),
    "resnet101": ("resnet101", "ResNet101_Weights"),
    "wrn50": ("wide_resnet50_2", "Wide_ResNet50_2_Weights"),
    "wrn101": ("wide_resnet101_2", "Wide_ResNet101_2_Weights"),
    "mobilenet_v2": ("mobilenet_v2", "MobileNet_V2_Weights"),
    "swin_t": ("swin_t", "Swin_T_Weights"),
    "swin_s": ("swin_s", "Swin_S_Weights"),
}
# name: (builder of the ImageNet classifier, the official weights file name or None)
OWN = {
    "repvgg_a0": (repvgg_a0, "RepVGG-A0-train.pth"),
    "repvgg_a2": (repvgg_a2, "RepVGG-A2-train.pth"),
    # 32 px networks of the KD literature: no ImageNet weights (mpscd.pretrain makes some)
    **{name: (builder, None) for name, builder in CIFAR_BACKBONES.items()},
}
BACKBONES = (*TORCHVISION, *OWN)
REPVGG_URL = "https://github.com/DingXiaoH/RepVGG (the 'RepVGG-*-train.pth' ImageNet checkpoints)"


def _weights_path(filename):
    return os.path.join(torch.hub.get_dir(), "checkpoints", filename)


def _imagenet_state_dict(name, weights, path):
    """ImageNet weights from `path`, or from torch's hub cache the torchvision way;
    never downloads, so a missing file is a clear error instead of a hang."""
    if path is None:
        if weights is None:
            raise UserError(f"{name} has no ImageNet weights: give a weights file with teacher_weights/"
                            "student_weights (python -m mpscd.pretrain writes one) or set pretrained=False")
        filename = weights if isinstance(weights, str) else os.path.basename(weights.url)
        path = _weights_path(filename)
        if not os.path.isfile(path):
            source = REPVGG_URL if isinstance(weights, str) else weights.url
            raise UserError(f"pretrained=True needs the ImageNet weights of {name}: put {filename} "
                            f"(from {source}) at {path}, give a local file with teacher_weights/"
                            "student_weights, or set pretrained=False")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UserError(f"cannot read ImageNet weights {path}: {type(e).__name__}: {e}") from None
    return state.get("state_dict", state) if isinstance(state, dict) else state


def _classifier(name):
    """The ImageNet classifier `name`, untrained, and its weights (a torchvision enum, a file
    name or None)."""
    if name in OWN:
        builder, weights = OWN[name]
        return builder(), weights
    import torchvision  # here, not at the top: see TORCHVISION
    builder, weights = TORCHVISION[name]
    return getattr(torchvision.models, builder)(), getattr(torchvision.models, weights).IMAGENET1K_V1


class Backbone(nn.Module):
    """The convolutional or transformer trunk of an ImageNet model: image -> [B, F, h, w]."""

    def __init__(self, name, pretrained=False, weights_path=None):
        super().__init__()
        if name not in BACKBONES:
            raise UserError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}")
        net, weights = _classifier(name)
        if pretrained or weights_path:
            missing, _ = net.load_state_dict(_imagenet_state_dict(name, weights, weights_path), strict=False)
            if missing:
                raise UserError(f"ImageNet weights for {name} lack {len(missing)} tensors, e.g. {missing[:3]}")
        self.is_swin = name.startswith("swin")
        if name == "mobilenet_v2":
            self.body = net.features
            self.out_channels = net.last_channel
        elif self.is_swin:
            self.body = nn.Sequential(net.features, net.norm)  # channels-last output
            self.out_channels = net.head.in_features
        elif name in TORCHVISION:  # the ResNets
            self.body = nn.Sequential(*list(net.children())[:-2])
            self.out_channels = net.fc.in_features
        else:  # written here (RepVGG, the 32 px networks): the whole net is the trunk
            self.body = net
            self.out_channels = net.out_channels

    def forward(self, x):
        x = self.body(x)
        return x.permute(0, 3, 1, 2) if self.is_swin else x


class MultiLabelNet(nn.Module):
    """Backbone + label-embedding head. forward() returns a dict with
    logits [B, C], embeddings (label-wise) [B, C, D] and feature (pooled) [B, F]."""

    def __init__(self, arch, num_classes, embed_dim=768, pretrained=False, weights_path=None, ffn_dim=2048):
        super().__init__()
        self.arch, self.num_classes = arch, num_classes
        self.backbone = Backbone(arch, pretrained, weights_path)
        self.head = LabelEmbeddingHead(self.backbone.out_channels, num_classes, embed_dim, ffn_dim=ffn_dim)

    def forward(self, images):
        feature_map = self.backbone(images)
        logits, embeddings = self.head(feature_map)
        return {"logits": logits, "embeddings": embeddings, "feature": feature_map.mean((2, 3))}

    def fuse(self):
        """Deploy form (RepVGG blocks fused); a no-op for other backbones."""
        repvgg_deploy(self)
        return self


def build_model(arch, num_classes, embed_dim=768, pretrained=False, weights_path=None, ffn_dim=2048):
    return MultiLabelNet(arch, num_classes, embed_dim, pretrained, weights_path, ffn_dim)
