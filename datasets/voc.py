"""PASCAL VOC-layout folders: VOC 2007 by default, or another year or a lab's own
annotations in that layout, chosen by the config's `voc` dict (folders, id lists, class list)."""
import os
import xml.etree.ElementTree as ET

from datasets.base import ImageFileDataset, read_class_file
from utils import UserError

VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
               "train", "tvmonitor")


def _require(path, what):
    if not os.path.exists(path):
        raise UserError(f"VOC: {what} {path} is missing; it is --data_root joined with the config's voc folder "
                        "and id list of the split (default: the VOC 2007 layout, VOCtrainval2007/VOCdevkit/VOC2007 "
                        "and VOCtest2007/VOCdevkit/VOC2007; see docs/usage.md)")
    return path


def read_objects(xml_path):
    """(class name, difficult) of each object of one annotation file."""
    try:
        root = ET.parse(xml_path).getroot()
    except FileNotFoundError:
        raise UserError(f"annotation {xml_path} does not exist; every id in the list needs one") from None
    except ET.ParseError as e:
        raise UserError(f"cannot parse annotation {xml_path}: {e}") from None
    objects = [((obj.findtext("name") or "").strip(), (obj.findtext("difficult") or "0").strip() == "1")
               for obj in root.iter("object")]
    if any(not name for name, _ in objects):
        raise UserError(f"an object in {xml_path} has no <name>")
    return objects


def voc_target(objects, column, difficult, xml_path, source):
    """Image-level target (`column`: class name -> output): 1 if the class has a non-difficult
    object, and for classes with only difficult objects 1 (difficult="positive") or -1 ("ignore")."""
    target = [0.0] * len(column)
    for name, is_difficult in objects:
        if name not in column:
            raise UserError(f"unknown class {name!r} in {xml_path}: it is not among {source}")
        c = column[name]
        if is_difficult:
            if target[c] != 1.0:
                target[c] = 1.0 if difficult == "positive" else -1.0
        else:
            target[c] = 1.0
    return target


def read_split(data_root, split, options):
    """Image paths, annotation paths and the objects of each image of one split."""
    root = _require(os.path.join(data_root, options[f"{split}_folder"]), "folder")
    list_file = _require(os.path.join(root, "ImageSets", "Main", f"{options[f'{split}_list']}.txt"), "id list")
    with open(list_file) as f:
        ids = [line.split()[0] for line in f if line.strip()]
    if not ids:
        raise UserError(f"id list {list_file} is empty")
    xml_paths = [os.path.join(root, "Annotations", f"{i}.xml") for i in ids]
    objects = [read_objects(p) for p in xml_paths]
    paths = [os.path.join(root, "JPEGImages", f"{i}.jpg") for i in ids]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise UserError(f"{len(missing)} images of {list_file} are missing, e.g. {missing[0]}")
    return paths, xml_paths, objects


def voc_dataset(data_root, split, options, transform=None, difficult="positive"):
    """`options`: the config's `voc` dict. Its `classes`: "voc2007" (the 20 classes in the
    usual order), "annotations" (the names in the training split's annotations, sorted: both
    splits get the same list) or a class file under data_root, one name a line."""
    if difficult not in ("positive", "ignore"):
        raise UserError(f"config key 'difficult' must be 'positive' or 'ignore', got {difficult!r}")
    paths, xml_paths, objects = read_split(data_root, split, options)
    choice = options["classes"]
    if choice == "voc2007":
        classes, source = VOC_CLASSES, f"the 20 VOC classes ({', '.join(VOC_CLASSES)})"
    elif choice == "annotations":
        train_objects = objects if split == "train" else read_split(data_root, "train", options)[2]
        classes = sorted({name for image in train_objects for name, _ in image})
        source = "the classes of the training annotations"
        if not classes:
            raise UserError(f"VOC: the training annotations under {options['train_folder']} name no object")
    else:
        class_file = os.path.join(data_root, choice)
        classes, source = read_class_file(class_file), f"the classes of {class_file}"
    column = {name: c for c, name in enumerate(classes)}
    targets = [voc_target(o, column, difficult, p, source) for o, p in zip(objects, xml_paths)]
    return ImageFileDataset(paths, classes, targets, transform)
