import os
import xml.etree.ElementTree as ET

from datasets.base import ImageFileDataset
from utils import UserError

VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
               "train", "tvmonitor")
# split -> (folder under data_root, id list)
VOC_SPLITS = {"train": ("VOCtrainval2007", "trainval"), "test": ("VOCtest2007", "test")}


def _require(path, what):
    if not os.path.exists(path):
        raise UserError(f"VOC 2007: {what} {path} is missing; --data_root must hold "
                        "VOCtrainval2007/VOCdevkit/VOC2007 and VOCtest2007/VOCdevkit/VOC2007 (see README.md)")
    return path


def parse_voc_labels(xml_path, difficult="positive"):
    """Image-level target from one annotation: 1 if the class has a non-difficult object,
    and for classes with only difficult objects 1 (difficult="positive") or -1 ("ignore")."""
    try:
        root = ET.parse(xml_path).getroot()
    except FileNotFoundError:
        raise UserError(f"annotation {xml_path} does not exist; every id in the list needs one") from None
    except ET.ParseError as e:
        raise UserError(f"cannot parse annotation {xml_path}: {e}") from None
    target = [0.0] * len(VOC_CLASSES)
    for obj in root.iter("object"):
        name = (obj.findtext("name") or "").strip()
        if name not in VOC_CLASSES:
            raise UserError(f"unknown class {name!r} in {xml_path}; VOC classes are {', '.join(VOC_CLASSES)}")
        c = VOC_CLASSES.index(name)
        if (obj.findtext("difficult") or "0").strip() == "1":
            if target[c] != 1.0:
                target[c] = 1.0 if difficult == "positive" else -1.0
        else:
            target[c] = 1.0
    return target


def voc2007(data_root, split, transform=None, difficult="positive"):
    if difficult not in ("positive", "ignore"):
        raise UserError(f"config key 'difficult' must be 'positive' or 'ignore', got {difficult!r}")
    folder, id_list = VOC_SPLITS[split]
    root = _require(os.path.join(data_root, folder, "VOCdevkit", "VOC2007"), "folder")
    list_file = _require(os.path.join(root, "ImageSets", "Main", f"{id_list}.txt"), "id list")
    with open(list_file) as f:
        ids = [line.split()[0] for line in f if line.strip()]
    if not ids:
        raise UserError(f"id list {list_file} is empty")
    targets = [parse_voc_labels(os.path.join(root, "Annotations", f"{i}.xml"), difficult) for i in ids]
    paths = [os.path.join(root, "JPEGImages", f"{i}.jpg") for i in ids]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise UserError(f"{len(missing)} images of {list_file} are missing, e.g. {missing[0]}")
    return ImageFileDataset(paths, VOC_CLASSES, targets, transform)
