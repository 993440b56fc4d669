"""Your own data (dataset = "folder"): a root folder holding the images, train.csv and
test.csv (one line per image: its path under the root and its labels) and, optionally,
classes.txt (docs/usage.md, "Your own data"). The config's `folder` dict says how labels
are written: "names" (`path,cat|dog`, names split by label_delimiter) or "columns" (a
header `path,cat,dog`, then 1, 0 or -1 per class)."""
import csv
import os

from datasets.base import ImageFileDataset, read_class_file
from utils import UserError

LABEL_FILES = {"train": "train.csv", "test": "test.csv"}
CLASS_FILE = "classes.txt"
VALUES = {"1": 1.0, "0": 0.0, "-1": -1.0}  # -1: unknown, left out of the loss and the metrics


def _error(path, line, message):
    return UserError(f"{path}, line {line}: {message}")


def read_label_file(path, label_format, delimiter):
    """(header, rows) of one label file: header is (line, class names of its columns) in
    the columns form, else None; rows are (line, image path, {class name: 1.0, 0.0 or -1.0})."""
    if not os.path.isfile(path):
        raise UserError(f"label file {path} does not exist; a folder dataset needs train.csv and test.csv "
                        "(docs/usage.md)")
    with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: a spreadsheet's BOM is not part of the first path
        reader = csv.reader(f)  # line_num: the line a row ends on, blank lines counted
        lines = [(reader.line_num, [field.strip() for field in fields]) for fields in reader
                 if "".join(fields).strip()]
    header = None
    if label_format == "columns" and lines:
        line, fields = lines.pop(0)
        header = (line, fields[1:])
        for k, name in enumerate(header[1]):
            if not name or name in header[1][:k]:
                raise _error(path, line, f"the header's column {k + 2} is " + (f"{name!r} again" if name else "empty"))
    if not lines:
        raise UserError(f"label file {path} lists no image")
    rows = []
    for line, fields in lines:
        if not fields[0]:
            raise _error(path, line, "the image path (first field) is empty")
        if header is None:
            labels = {name.strip(): 1.0 for field in fields[1:] for name in field.split(delimiter) if name.strip()}
        else:
            if len(fields) != len(header[1]) + 1:
                raise _error(path, line, f"{len(fields)} fields, but the header (line {header[0]}) has "
                                         f"{len(header[1]) + 1}")
            bad = [(name, value) for name, value in zip(header[1], fields[1:]) if value not in VALUES]
            if bad:
                raise _error(path, line, f"column {bad[0][0]!r} holds {bad[0][1]!r}; a column holds 1, 0 or "
                                         "-1 (unknown)")
            labels = {name: VALUES[value] for name, value in zip(header[1], fields[1:])}
        rows.append((line, fields[0], labels))
    return header, rows


def folder_classes(data_root, label_format, delimiter):
    """The class list and the class file it came from: classes.txt in its order, else (None)
    every class name of train.csv (its header in the columns form) in sorted order."""
    class_file = os.path.join(data_root, CLASS_FILE)
    if os.path.isfile(class_file):
        return read_class_file(class_file), class_file
    header, rows = read_label_file(os.path.join(data_root, LABEL_FILES["train"]), label_format, delimiter)
    names = header[1] if header else {name for _, _, labels in rows for name in labels}
    if not names:
        raise UserError(f"{os.path.join(data_root, LABEL_FILES['train'])} names no class and there is no "
                        f"{class_file}")
    return sorted(names), None


def folder_dataset(data_root, split, options, transform=None, log=print):
    """`options`: the config's `folder` dict (label_format, label_delimiter). Both splits get
    the class list of folder_classes; an image without a label is kept as all-negative."""
    classes, class_file = folder_classes(data_root, options["label_format"], options["label_delimiter"])
    path = os.path.join(data_root, LABEL_FILES[split])
    header, rows = read_label_file(path, options["label_format"], options["label_delimiter"])
    column = {name: c for c, name in enumerate(classes)}
    source = class_file or os.path.join(data_root, LABEL_FILES["train"])
    if header is not None and set(header[1]) != set(classes):
        missing, extra = [c for c in classes if c not in header[1]], [n for n in header[1] if n not in column]
        raise _error(path, header[0], f"the header's classes differ from those of {source}: "
                                      f"missing {missing}, not in that list {extra}")
    first_line, paths, targets, missing = {}, [], [], []
    for line, relative, labels in rows:
        key = os.path.normpath(relative)
        if key in first_line:
            raise _error(path, line, f"image {relative} again (first on line {first_line[key]})")
        first_line[key] = line
        target = [0.0] * len(classes)
        for name, value in labels.items():
            if name not in column:
                raise _error(path, line, f"class {name!r} is not in {class_file}" if class_file else
                             f"class {name!r} never occurs in {source}; list every class in {CLASS_FILE}")
            target[column[name]] = value
        paths.append(os.path.join(data_root, relative))
        targets.append(target)
        if not os.path.isfile(paths[-1]):
            missing.append((line, paths[-1]))
    if missing:
        more = f" ({len(missing) - 1} more images of this file are missing)" if len(missing) > 1 else ""
        raise _error(path, missing[0][0], f"image {missing[0][1]} does not exist{more}")
    unlabeled = sum(not any(target) for target in targets)
    if unlabeled:
        log(f"{LABEL_FILES[split]}: {unlabeled} of {len(targets)} images have no label (kept as all-negative)")
    return ImageFileDataset(paths, classes, targets, transform)
