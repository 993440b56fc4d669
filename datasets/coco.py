"""COCO-format instances files: MS-COCO 2014 by default, or any other (a category subset,
LVIS, an Objects365 export, a lab's own annotations), chosen by the config's `coco` dict
(annotation file and image folder of each split)."""
import json
import os

from datasets.base import ImageFileDataset
from utils import UserError


def file_name(image):
    """The image's path under the image folder. LVIS lists no file_name: its coco_url ends in
    <split folder>/<file>, so the image folder is then the one holding train2017/ and val2017/."""
    if "file_name" in image:
        return image["file_name"]
    return "/".join(image["coco_url"].split("/")[-2:])


def coco_dataset(data_root, split, options, transform=None, drop_unlabeled=False, log=print):
    """`options`: the config's `coco` dict, paths under data_root. Classes are the categories
    of the instances file in ascending category id (for MS-COCO: person, bicycle, car, ...
    toothbrush); an image's label is the set of categories of its annotations."""
    ann_file = os.path.join(data_root, options[f"{split}_annotations"])
    image_dir = os.path.join(data_root, options[f"{split}_images"])
    for path, key in ((ann_file, f"{split}_annotations"), (image_dir, f"{split}_images")):
        if not os.path.exists(path):
            raise UserError(f"COCO: {path} is missing; it is --data_root joined with the config's coco.{key} "
                            "(default: the MS-COCO 2014 layout, train2014/, val2014/ and "
                            "annotations/instances_{train,val}2014.json; see docs/usage.md)")
    try:
        with open(ann_file) as f:
            data = json.load(f)
        categories = sorted(data["categories"], key=lambda c: c["id"])
        images = sorted(data["images"], key=lambda im: im["id"])
        names = {im["id"]: file_name(im) for im in images}
        classes = [c["name"] for c in categories]
        annotations = [(ann["image_id"], ann["category_id"]) for ann in data["annotations"]]
    except json.JSONDecodeError as e:
        raise UserError(f"{ann_file} is not a JSON file ({e})") from None
    except KeyError as e:
        raise UserError(f"{ann_file} is not a COCO instances file: a field {e} is missing (images need id and "
                        "file_name or LVIS's coco_url; categories id and name; annotations image_id and "
                        "category_id)") from None
    except (TypeError, AttributeError) as e:
        raise UserError(f"{ann_file} is not a COCO instances file ({e})") from None
    if not categories:
        raise UserError(f"{ann_file} lists no category")
    column = {c["id"]: i for i, c in enumerate(categories)}
    labels = {im["id"]: [0.0] * len(categories) for im in images}
    for k, (image_id, category_id) in enumerate(annotations):
        if image_id not in labels or category_id not in column:
            raise UserError(f"{ann_file}: annotation {k} names image {image_id} and category {category_id}, "
                            "but the file's images and categories do not list both")
        labels[image_id][column[category_id]] = 1.0
    unlabeled = sum(not any(labels[im["id"]]) for im in images)
    if unlabeled:
        action = "dropped" if drop_unlabeled else "kept as all-negative"
        log(f"COCO {os.path.basename(ann_file)}: {unlabeled} of {len(images)} images have no annotation ({action})")
        if drop_unlabeled:
            images = [im for im in images if any(labels[im["id"]])]
    paths = [os.path.join(image_dir, names[im["id"]]) for im in images]
    return ImageFileDataset(paths, classes, [labels[im["id"]] for im in images], transform)
