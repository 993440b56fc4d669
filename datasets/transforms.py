import functools

import numpy as np
import torch
from PIL import Image

# All backbones here use ImageNet statistics (torchvision's and the official RepVGG weights).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# The ImageNet mean colour as uint8: zero after normalisation, to within 1/255.
MEAN_COLOUR = torch.tensor([round(255 * m) for m in IMAGENET_MEAN], dtype=torch.uint8).view(3, 1, 1)


class Cutout:
    """Fill one random square of side `fraction * size` of a uint8 image tensor with the
    ImageNet mean colour."""

    def __init__(self, fraction=0.5):
        self.fraction = fraction

    def __call__(self, image):
        _, h, w = image.shape
        side_h, side_w = int(h * self.fraction), int(w * self.fraction)
        cy, cx = torch.randint(h, ()).item(), torch.randint(w, ()).item()
        image = image.clone()
        image[:, max(cy - side_h // 2, 0):cy + side_h // 2, max(cx - side_w // 2, 0):cx + side_w // 2] = MEAN_COLOUR
        return image


class RandomShift:
    """Move a uint8 image tensor by up to `pixels` in each direction, the uncovered border
    in the ImageNet mean colour: the pad-and-crop of the KD literature's CIFAR benchmarks."""

    def __init__(self, pixels):
        self.pixels = pixels

    def __call__(self, image):
        p, (_, h, w) = self.pixels, image.shape
        padded = MEAN_COLOUR.expand(3, h + 2 * p, w + 2 * p).clone()
        padded[:, p:p + h, p:p + w] = image
        dy, dx = torch.randint(2 * p + 1, (2,)).tolist()
        return padded[:, dy:dy + h, dx:dx + w]


def build_transform(img_size, train, flip=True, randaugment=True, cutout=0.5, shift=0):
    """PIL image -> uint8 tensor [3, img_size, img_size]: torchvision's Resize((img_size,
    img_size)), RandomHorizontalFlip, RandAugment and PILToTensor, then RandomShift and
    Cutout; Resize, the flip and PILToTensor are written here so that torchvision (seconds
    to import) is imported only for RandAugment.
    Normalising waits for the device (`normalize`): loader workers, their shared memory and
    the copy to the GPU then move a quarter of the bytes of float32, and the workers skip the
    float arithmetic."""
    steps = [functools.partial(_resize, size=img_size)]
    if train and flip:
        steps.append(_random_flip)
    if train and randaugment:
        from torchvision.transforms import RandAugment
        steps.append(RandAugment())
    steps.append(_to_tensor)
    if train and shift:
        steps.append(RandomShift(shift))
    if train and cutout:
        steps.append(Cutout(cutout))
    return functools.partial(_compose, steps=steps)


def _resize(image, size):
    return image if image.size == (size, size) else image.resize((size, size), Image.BILINEAR)


def _random_flip(image):
    return image.transpose(Image.FLIP_LEFT_RIGHT) if torch.rand(1) < 0.5 else image  # torchvision's draw


def _to_tensor(image):
    width, height = image.size
    return torch.from_numpy(np.array(image, copy=True)).view(height, width, len(image.getbands())).permute(2, 0, 1)


def _compose(image, steps):
    for step in steps:
        image = step(image)
    return image


@functools.cache
def _imagenet_statistics(device):
    """Mean and std on the 0-255 scale, [1, 3, 1, 1], made once per device."""
    return tuple(255 * torch.tensor(v, device=device).view(1, 3, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))


def normalize(images):
    """uint8 RGB images [B, 3, H, W] -> the float input the networks read (ImageNet statistics)."""
    mean, std = _imagenet_statistics(images.device)
    return (images.float() - mean) / std
