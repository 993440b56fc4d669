"""Label images with a trained network:
python -m mpscd.predict --checkpoint work_dirs/RUN/student_last.pth --images FOLDER_OR_FILES [--csv out.csv]

Prints each image's labels scored at or above --threshold (default 0.5), best first."""
import argparse
import csv
import os
import sys

import torch

from datasets.base import load_rgb
from datasets.transforms import build_transform
from mpscd.runner import load_network
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


@torch.inference_mode()
def predict_images(model, paths, img_size, device, batch_size=32):
    """Sigmoid scores [N, C] of the images at `paths`, test-time transform."""
    transform = build_transform(img_size, train=False)
    model.eval().to(device)
    scores = []
    for start in range(0, len(paths), batch_size):
        images = torch.stack([transform(load_rgb(p)) for p in paths[start:start + batch_size]]).to(device)
        scores.append(torch.sigmoid(model(images)["logits"].float()).cpu())
    return torch.cat(scores)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--images", nargs="+", required=True, help="image files and/or folders")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--img_size", type=int, help="default: the checkpoint's training size")
    parser.add_argument("--csv", help="also write path, then one score column per class, to this file")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    model, state = load_network(args.checkpoint, with_state=True)
    classes = state.get("classes") or [str(c) for c in range(state["num_classes"])]
    paths = image_paths(args.images)
    scores = predict_images(model, paths, args.img_size or state["config"]["img_size"], torch.device(args.device))
    for path, row in zip(paths, scores.tolist()):
        labels = sorted(((s, c) for s, c in zip(row, classes) if s >= args.threshold), reverse=True)
        print(f"{path}: " + (", ".join(f"{c} {s:.2f}" for s, c in labels) or "(no label)"))
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["image", *classes])
            writer.writerows([p, *(f"{s:.6f}" for s in row)] for p, row in zip(paths, scores.tolist()))
    return paths, scores


if __name__ == "__main__":
    try:
        main()
    except UserError as e:
        sys.exit(f"error: {e}")
