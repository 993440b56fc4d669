import torch
from torchvision import transforms as T

# All backbones here use ImageNet statistics (torchvision's and the official RepVGG weights).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Cutout:
    """Zero one random square of side `fraction * size` of a normalised image tensor
    (zero is the dataset mean after normalisation)."""

    def __init__(self, fraction=0.5):
        self.fraction = fraction

    def __call__(self, image):
        _, h, w = image.shape
        side_h, side_w = int(h * self.fraction), int(w * self.fraction)
        cy, cx = torch.randint(h, ()).item(), torch.randint(w, ()).item()
        image = image.clone()
        image[:, max(cy - side_h // 2, 0):cy + side_h // 2, max(cx - side_w // 2, 0):cx + side_w // 2] = 0
        return image


def build_transform(img_size, train, flip=True, randaugment=True, cutout=0.5):
    steps = [T.Resize((img_size, img_size))]
    if train and flip:
        steps.append(T.RandomHorizontalFlip())
    if train and randaugment:
        steps.append(T.RandAugment())
    steps += [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    if train and cutout:
        steps.append(Cutout(cutout))
    return T.Compose(steps)
