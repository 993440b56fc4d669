"""Dataset readers. build_dataset(cfg, split, log) -> a MultiLabelDataset whose items are
dicts (image, target, index)."""
from datasets.coco import coco2014
from datasets.demo import DigitsDemo
from datasets.nuswide import nuswide
from datasets.transforms import build_transform
from datasets.voc import voc2007
from utils import UserError

DATASETS = ("voc", "coco", "nuswide", "demo")


def build_dataset(cfg, split, log=print, train_transform=None):
    """`split` is "train" or "test". `train_transform` overrides whether the training
    augmentation is used (default: for the train split only)."""
    train = split == "train" if train_transform is None else train_transform
    transform = build_transform(cfg["img_size"], train, **cfg["augment"])
    name = cfg["dataset"]
    if name == "demo":
        return DigitsDemo(split, transform, **cfg["demo"])
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    if not cfg["data_root"]:
        raise UserError(f"dataset {name!r} needs --data_root (the folder holding it; see README.md)")
    if name == "voc":
        return voc2007(cfg["data_root"], split, transform, cfg["difficult"])
    if name == "coco":
        return coco2014(cfg["data_root"], split, transform, cfg["drop_unlabeled"], log)
    return nuswide(cfg["data_root"], split, transform, log)
