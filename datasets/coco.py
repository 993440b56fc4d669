import json
import os

from datasets.base import ImageFileDataset
from utils import UserError


def coco2014(data_root, split, transform=None, drop_unlabeled=False, log=print):
    """MS-COCO 2014: train on train2014, test on val2014. Classes are the 80 categories
    of the instances file in ascending category id (person, bicycle, car, ... toothbrush)."""
    image_dir = {"train": "train2014", "test": "val2014"}[split]
    ann_file = os.path.join(data_root, "annotations", f"instances_{image_dir}.json")
    for path in (ann_file, os.path.join(data_root, image_dir)):
        if not os.path.exists(path):
            raise UserError(f"MS-COCO 2014: {path} is missing; --data_root must hold train2014/, val2014/ "
                            "and annotations/instances_{train,val}2014.json (see README.md)")
    try:
        with open(ann_file) as f:
            data = json.load(f)
        categories = sorted(data["categories"], key=lambda c: c["id"])
        images = sorted(data["images"], key=lambda im: im["id"])
        annotations = data["annotations"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise UserError(f"{ann_file} is not an official COCO instances file ({e})") from None
    column = {c["id"]: i for i, c in enumerate(categories)}
    labels = {im["id"]: [0.0] * len(categories) for im in images}
    for ann in annotations:
        labels[ann["image_id"]][column[ann["category_id"]]] = 1.0
    unlabeled = [im for im in images if not any(labels[im["id"]])]
    if unlabeled:
        action = "dropped" if drop_unlabeled else "kept as all-negative"
        log(f"COCO {image_dir}: {len(unlabeled)} of {len(images)} images have no annotation ({action})")
        if drop_unlabeled:
            images = [im for im in images if any(labels[im["id"]])]
    paths = [os.path.join(data_root, image_dir, im["file_name"]) for im in images]
    return ImageFileDataset(paths, [c["name"] for c in categories], [labels[im["id"]] for im in images], transform)
