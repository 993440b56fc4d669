import os

from datasets.base import ImageFileDataset
from utils import UserError


def _read_lines(path):
    if not os.path.isfile(path):
        raise UserError(f"NUS-WIDE: {path} is missing; --data_root must hold Flickr/, ImageList/, "
                        "TrainTestLabels/ and Concepts81.txt (see README.md)")
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def nuswide(data_root, split, transform=None, log=print):
    """NUS-WIDE, 81 concepts in the order of Concepts81.txt. Images listed but missing on
    disk (common in NUS-WIDE copies) are counted, reported and skipped."""
    tag = {"train": "Train", "test": "Test"}[split]
    concepts = _read_lines(os.path.join(data_root, "Concepts81.txt"))
    relative = [p.replace("\\", "/") for p in _read_lines(os.path.join(data_root, "ImageList", f"{tag}Imagelist.txt"))]
    columns = []
    for concept in concepts:
        label_file = os.path.join(data_root, "TrainTestLabels", f"Labels_{concept}_{tag}.txt")
        values = [float(v) for v in _read_lines(label_file)]
        if len(values) != len(relative):
            raise UserError(f"{label_file} has {len(values)} lines but {tag}Imagelist.txt lists {len(relative)} images")
        columns.append(values)
    paths = [os.path.join(data_root, "Flickr", p) for p in relative]
    present = [i for i, p in enumerate(paths) if os.path.isfile(p)]
    if len(present) < len(paths):
        log(f"NUS-WIDE {tag}: {len(paths) - len(present)} of {len(paths)} listed images are missing (skipped)")
    targets = [[columns[c][i] for c in range(len(concepts))] for i in present]
    return ImageFileDataset([paths[i] for i in present], concepts, targets, transform)
