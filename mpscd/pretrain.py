"""Pretrain a 32 px backbone on a single-label task, as ImageNet pretrains the paper's
networks: python -m mpscd.pretrain --arch resnet20 [--out FILE] [options].

The task: 10-way classification of single handwritten digits, each drawn (random size,
colour, place, noise) on a 32 px canvas from the scans the demo's *training* images use,
never the test split's handwriting. The backbone learns with a linear classifier on its
pooled features; the file keeps the backbone's weights, which a config reads as
teacher_weights / student_weights (the bench's pretrained-start rows)."""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from datasets.demo import compose_digit_images, digit_scans
from datasets.transforms import normalize
from models import Backbone
from models.cifar import CIFAR_BACKBONES
from utils import UserError
from utils.seed import seed_everything


def single_digits(count, seed, canvas=32):
    """uint8 images [count, 3, canvas, canvas] of one digit each, and the digits [count]."""
    images, targets = compose_digit_images(count, digit_scans("train"), canvas, np.random.default_rng([seed, 2]),
                                           digits=(1, 1), grid=3)
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(targets.argmax(1))


def pretrain(arch, images=10000, epochs=3, lr=2e-3, batch_size=128, seed=0, log=print):
    """The backbone trained on single digits and its accuracy on held-out images (as many,
    up to 2,000)."""
    if arch not in CIFAR_BACKBONES:
        raise UserError(f"mpscd.pretrain makes weights for the 32 px networks: {', '.join(CIFAR_BACKBONES)}")
    seed_everything(seed)
    x, y = single_digits(images, seed)
    x_val, y_val = single_digits(min(images, 2000), seed + 1)
    backbone = Backbone(arch)
    classifier = torch.nn.Linear(backbone.out_channels, 10)
    parameters = [*backbone.parameters(), *classifier.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=lr)
    steps = epochs * (images // batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.2)
    forward = lambda batch: classifier(backbone(normalize(batch)).mean((2, 3)))
    for epoch in range(epochs):
        backbone.train()
        tic, order = time.time(), torch.randperm(images)
        for i in range(images // batch_size):
            index = order[i * batch_size:(i + 1) * batch_size]
            loss = F.cross_entropy(forward(x[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
        backbone.eval()
        with torch.no_grad():
            accuracy = sum((forward(x_val[i:i + 500]).argmax(1) == y_val[i:i + 500]).sum().item()
                           for i in range(0, len(x_val), 500)) / len(x_val)
        log(f"epoch {epoch + 1}/{epochs}: loss {loss.item():.3f}, held-out accuracy {100 * accuracy:.1f}% "
            f"({time.time() - tic:.0f} s)")
    return backbone, accuracy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", required=True, help=", ".join(CIFAR_BACKBONES))
    parser.add_argument("--out", help="weights file (default: work_dirs/pretrained/<arch>_digits.pth)")
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = args.out or os.path.join("work_dirs", "pretrained", f"{args.arch}_digits.pth")
    backbone, accuracy = pretrain(args.arch, args.images, args.epochs, args.lr, seed=args.seed)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    # the network's own keys, as Backbone loads a weights file; the rest documents the file
    torch.save({"state_dict": backbone.body.state_dict(), "arch": args.arch, "task": "single digits, 10-way",
                "accuracy": accuracy, "images": args.images, "epochs": args.epochs, "seed": args.seed}, out)
    print(f"wrote {out}: {args.arch}, held-out accuracy {100 * accuracy:.1f}%; use it with "
          f"--opts teacher_weights='{out}' (or student_weights)")
    return out


if __name__ == "__main__":
    try:
        main()
    except UserError as e:
        sys.exit(f"error: {e}")
