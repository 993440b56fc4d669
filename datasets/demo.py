"""Built-in demo dataset: multi-label images composed from scikit-learn's bundled
handwritten digits (1,797 8x8 scans, no download). Each image is a noisy coloured
canvas holding 1 to 4 digits of random size, colour and place; its label is the set of
digits shown (10 classes). Training, development and test images use disjoint digit
scans, so the held-out images measure generalisation to unseen handwriting; a recipe is
chosen on the development images (heldout="dev"), results are reported on the test images.
Generation is deterministic in the seed."""
import numpy as np
from PIL import Image

from datasets.base import MultiLabelDataset

DIGIT_CLASSES = tuple(str(d) for d in range(10))
# scans [0, 1000) for train images, [1000, 1200) for development images, the remaining 597 for test images
_SCANS = {"train": slice(0, 1000), "dev": slice(1000, 1200), "test": slice(1200, None)}
_STREAM = {"train": 0, "test": 1, "dev": 3}  # 2 is mpscd.pretrain's


def digit_scans(split):
    """The scans a split ("train", "dev" or "test") is made of: disjoint handwriting."""
    from sklearn.datasets import load_digits  # here: its import takes a second that other datasets need not pay
    scans = load_digits()
    part = _SCANS[split]
    scans.images, scans.target = scans.images[part], scans.target[part]
    return scans


def compose_digit_images(count, scans, canvas, rng, digits=(1, 4), grid=3):
    """`count` RGB uint8 images [count, canvas, canvas, 3] holding `digits` (min, max) digits
    each, in distinct cells of a grid x grid layout (with jitter), and their 0/1 targets [count, 10]."""
    images, labels = scans.images / 16.0, scans.target
    cells = grid
    cell = canvas // cells
    out = np.empty((count, canvas, canvas, 3), dtype=np.uint8)
    targets = np.zeros((count, len(DIGIT_CLASSES)), dtype=np.float32)
    glyphs = {}  # (scan, size) -> the resized scan: the few sizes repeat across images
    for n in range(count):
        background = rng.uniform(0, 0.35, size=3)
        img = background + rng.normal(0, 0.12, size=(canvas, canvas, 3))
        for slot in rng.choice(cells * cells, size=rng.integers(digits[0], digits[1] + 1), replace=False):
            k = rng.integers(len(images))
            size = int(rng.integers(cell * 2 // 3, cell + 1))
            if (k, size) not in glyphs:
                scan = Image.fromarray((images[k] * 255).astype(np.uint8))
                glyphs[k, size] = np.asarray(scan.resize((size, size), Image.BILINEAR)) / 255.0
            glyph = glyphs[k, size]
            y = slot // cells * cell + rng.integers(0, cell - size + 1)
            x = slot % cells * cell + rng.integers(0, cell - size + 1)
            colour = rng.uniform(0.4, 1.0, size=3)
            region = img[y:y + size, x:x + size]
            img[y:y + size, x:x + size] = region * (1 - glyph[..., None]) + colour * glyph[..., None]
            targets[n, labels[k]] = 1.0
        out[n] = (np.clip(img, 0, 1) * 255).astype(np.uint8)
    return out, targets


class DigitsDemo(MultiLabelDataset):
    def __init__(self, split, transform=None, train_size=4000, test_size=1000, canvas=64, grid=3, seed=0,
                 heldout="test"):
        """split "train", or "test": the images of the `heldout` handwriting ("test" or "dev")."""
        scans = "train" if split == "train" else heldout
        rng = np.random.default_rng([seed, _STREAM[scans]])
        count = train_size if split == "train" else test_size
        self.images, targets = compose_digit_images(count, digit_scans(scans), canvas, rng, grid=grid)
        super().__init__(DIGIT_CLASSES, targets, transform)

    def load_image(self, index):
        return Image.fromarray(self.images[index])
