import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from utils import UserError


def load_rgb(path, size=None):
    """Decode an image fully (so a truncated file fails here, naming the file). With `size`
    (every transform here starts by resizing to size x size), a JPEG is decoded at 1/2, 1/4
    or 1/8 scale where both sides stay at least `size`: libjpeg then skips most of the work."""
    try:
        with Image.open(path) as image:
            if size:
                image.draft("RGB", (size, size))
            return image.convert("RGB")
    except FileNotFoundError:
        raise UserError(f"image {path} does not exist") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise UserError(f"cannot decode image {path} ({e}); replace or remove it from the id list") from None


def read_class_file(path):
    """Class names, one a line (blank lines skipped), in the order of the network's outputs."""
    if not os.path.isfile(path):
        raise UserError(f"class list {path} does not exist")
    classes, first_line = [], {}
    with open(path, encoding="utf-8-sig") as f:  # -sig: a BOM (Windows editors) is not part of the first name
        for number, line in enumerate(f, 1):
            name = line.strip()
            if not name:
                continue
            if name in first_line:
                raise UserError(f"{path}, line {number}: class {name!r} again (first on line {first_line[name]})")
            first_line[name] = number
            classes.append(name)
    if not classes:
        raise UserError(f"class list {path} is empty")
    return classes


class MultiLabelDataset(Dataset):
    """Images with a target vector per image: 1 present, 0 absent, -1 ignored.
    Items are dicts: image, target, index."""

    def __init__(self, classes, targets, transform=None):
        self.classes = list(classes)
        self.targets = np.asarray(targets, dtype=np.float32).reshape(-1, len(self.classes))
        self.transform = transform

    def __len__(self):
        return len(self.targets)

    def load_image(self, index):
        raise NotImplementedError

    def __getitem__(self, key):
        """`key` is an index, or (index, seed) from a training sampler: seeding the
        augmentation per sample makes it independent of workers and resumable mid-epoch."""
        index, seed = key if isinstance(key, tuple) else (key, None)
        if seed is not None:  # the CPU generator: torch.manual_seed also queues a CUDA reseed, 0.2 ms each
            torch.default_generator.manual_seed(seed)
        image = self.load_image(index)
        if self.transform is not None:
            image = self.transform(image)
        return {"image": image, "target": torch.from_numpy(self.targets[index]), "index": index}


class ImageFileDataset(MultiLabelDataset):
    """A MultiLabelDataset whose images are files on disk, decoded at no less than
    `decode_size` (set by build_dataset: the size every transform first resizes to; None:
    full size), optionally decoded once into memory at that size (`build_cache`)."""

    def __init__(self, paths, classes, targets, transform=None):
        super().__init__(classes, targets, transform)
        self.paths = list(paths)
        self.decode_size = None
        self.cache = None
        if not self.paths:
            raise UserError("the dataset is empty: its id list names no image")

    def build_cache(self, threads=4):
        """Decode and resize every image to decode_size x decode_size uint8 RGB; returns the bytes held."""
        size = self.decode_size

        def decode(path):
            return np.asarray(load_rgb(path, size).resize((size, size), Image.BILINEAR))
        with ThreadPoolExecutor(threads) as pool:
            self.cache = np.stack(list(pool.map(decode, self.paths)))
        return self.cache.nbytes

    def load_image(self, index):
        if self.cache is not None:
            return Image.fromarray(self.cache[index])
        return load_rgb(self.paths[index], self.decode_size)
