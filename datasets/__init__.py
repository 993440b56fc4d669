"""Dataset readers. build_dataset(cfg, split, log) -> a MultiLabelDataset whose items are
dicts (image, target, index)."""
import copy
import time

from datasets.coco import coco_dataset
from datasets.demo import DigitsDemo
from datasets.folder import folder_dataset
from datasets.nuswide import nuswide
from datasets.transforms import build_transform
from datasets.voc import voc_dataset
from utils import UserError

DATASETS = ("voc", "coco", "nuswide", "folder", "demo")


def with_test_transform(dataset, cfg):
    """The same images (and cache) seen through the test-time transform."""
    view = copy.copy(dataset)
    view.transform = build_transform(cfg["img_size"], False)
    return view


def build_dataset(cfg, split, log=print):
    """`split` is "train" (with the training augmentation) or "test"."""
    transform = build_transform(cfg["img_size"], split == "train", **cfg["augment"])
    name = cfg["dataset"]
    if name == "demo":
        return DigitsDemo(split, transform, **cfg["demo"])
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    if not cfg["data_root"]:
        raise UserError(f"dataset {name!r} needs --data_root (the folder holding it; see README.md)")
    if name == "voc":
        dataset = voc_dataset(cfg["data_root"], split, cfg["voc"], transform, cfg["difficult"])
    elif name == "coco":
        dataset = coco_dataset(cfg["data_root"], split, cfg["coco"], transform, cfg["drop_unlabeled"], log)
    elif name == "folder":
        dataset = folder_dataset(cfg["data_root"], split, cfg["folder"], transform, log)
    else:
        dataset = nuswide(cfg["data_root"], split, transform, log)
    dataset.decode_size = cfg["img_size"]
    if cfg["cache_images"]:
        tic = time.time()
        size = dataset.build_cache()
        log(f"cached {len(dataset)} {split} images at {cfg['img_size']} px: {size / 2**20:.0f} MiB "
            f"in memory, built in {time.time() - tic:.0f} s")
    return dataset
