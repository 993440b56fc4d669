"""Label images with a trained network:
python -m mpscd.predict --checkpoint work_dirs/RUN/student_last.pth --images FOLDER_OR_FILES [--csv out.csv]

Prints each image's labels scored at or above --threshold (default 0.5), best first.
Files that cannot be read are listed at the end with the reason; the exit status is
non-zero only when none could be read."""
import argparse
import csv
import os
import sys

import torch
from torch.utils.data import DataLoader, Dataset

from datasets.base import load_rgb
from datasets.transforms import build_transform
from mpscd.engine.evaluation import network_input
from mpscd.engine.runner import load_network
from utils import UserError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def image_paths(items):
    paths = []
    for item in items:
        if os.path.isdir(item):
            paths += sorted(os.path.join(item, f) for f in os.listdir(item) if f.lower().endswith(IMAGE_SUFFIXES))
        elif os.path.isfile(item):
            paths.append(item)
        else:
            raise UserError(f"{item} is neither an image file nor a folder")
    if not paths:
        raise UserError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {', '.join(items)}")
    return paths


class ImageFiles(Dataset):
    """Test-time-transformed images by path; an unreadable file gives a blank image and the
    reason, so that one bad file does not stop the others."""

    def __init__(self, paths, img_size):
        self.paths, self.img_size = paths, img_size
        self.transform = build_transform(img_size, train=False)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        try:
            return self.transform(load_rgb(self.paths[index], self.img_size)), ""
        except UserError as e:
            return torch.zeros(3, self.img_size, self.img_size, dtype=torch.uint8), str(e)


@torch.inference_mode()
def predict_images(model, paths, img_size, device, batch_size=32, num_workers=0):
    """Sigmoid scores [N, C] of the images at `paths` (test-time transform; NaN rows for
    unreadable files) and {path: reason} of those files."""
    model.eval().to(device)
    loader = DataLoader(ImageFiles(paths, img_size), batch_size, num_workers=num_workers,
                        pin_memory=device.type == "cuda")
    scores, failed = [], {}
    for images, errors in loader:
        with torch.autocast(device.type, enabled=device.type == "cuda"):  # float16 on CUDA
            batch_scores = torch.sigmoid(model(network_input(images, device))["logits"].float()).cpu()
        for k, error in enumerate(errors):
            if error:
                failed[paths[len(scores) * batch_size + k]] = error
                batch_scores[k] = float("nan")
        scores.append(batch_scores)
    return torch.cat(scores), failed


def write_csv(path, classes, rows):
    """All rows at once through a temporary file: the CSV is complete or absent."""
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image", *classes])
        writer.writerows([p, *(f"{s:.6f}" for s in row)] for p, row in rows)
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--images", nargs="+", required=True, help="image files and/or folders")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--img_size", type=int, help="default: the checkpoint's training size")
    parser.add_argument("--csv", help="also write path, then one score column per class, to this file")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), help="decoding processes")
    args = parser.parse_args(argv)
    model, state = load_network(args.checkpoint, with_state=True)
    classes = state.get("classes") or [str(c) for c in range(state["num_classes"])]
    paths = image_paths(args.images)
    scores, failed = predict_images(model, paths, args.img_size or state["config"]["img_size"],
                                    torch.device(args.device), args.batch_size, args.workers)
    good = [(p, row) for p, row in zip(paths, scores.tolist()) if p not in failed]
    for path, row in good:
        labels = sorted(((s, c) for s, c in zip(row, classes) if s >= args.threshold), reverse=True)
        print(f"{path}: " + (", ".join(f"{c} {s:.2f}" for s, c in labels) or "(no label)"))
    if args.csv:
        write_csv(args.csv, classes, good)
    if failed:
        print(f"{len(failed)} of {len(paths)} files could not be read:", file=sys.stderr)
        for path, reason in failed.items():
            print(f"  {reason}", file=sys.stderr)
    if not good:
        raise UserError(f"none of the {len(paths)} files could be read")
    return paths, scores, failed


if __name__ == "__main__":
    try:
        main()
    except UserError as e:
        sys.exit(f"error: {e}")
