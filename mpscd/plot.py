"""Figures of a run folder: python -m mpscd.plot WORK_DIR [--compare OTHER_WORK_DIR] [--tsne]

Writes into WORK_DIR:
- curves.png: every loss term and the test mAP per epoch, teacher and student stages;
- embeddings.png: a 2-D view (PCA, or t-SNE with --tsne) of the teacher's and the
  student's label-wise embeddings of positive labels of test images, coloured by class,
  with the class prototypes marked (the student's prototype banks for MPSCD runs, the
  class means otherwise), side by side;
- per_class_ap.png (with --compare): per-class AP of this run's student against another's.
Needs matplotlib (pip install matplotlib), which the rest of the program does not.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

from datasets import build_dataset
from datasets.transforms import normalize
from mpscd.engine.config import load_config
from mpscd.engine.data import make_test_loader
from mpscd.engine.runner import load_network
from utils import UserError
from utils.checkpoint import load_checkpoint
from utils.logger import read_jsonl


def pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError("plots need matplotlib, an optional dependency: pip install matplotlib") from None
    return plt


def plot_curves(work_dir, plt):
    records = read_jsonl(os.path.join(work_dir, "metrics.jsonl"))
    stages = [s for s in ("teacher", "student") if any(r["stage"] == s for r in records)]
    fig, axes = plt.subplots(1, len(stages) + 1, figsize=(5 * (len(stages) + 1), 4))
    for ax, stage in zip(axes, stages):
        rows = [r for r in records if r["stage"] == stage]
        for term in sorted({k for r in rows for k in r if k.startswith("loss_")}):
            ax.plot([r["epoch"] for r in rows], [r.get(term) for r in rows], label=term[5:])
        ax.set(title=f"{stage}: loss terms", xlabel="epoch", yscale="log")
        ax.legend()
    for stage in stages:
        rows = [r for r in records if r["stage"] == stage and "mAP" in r]
        axes[-1].plot([r["epoch"] for r in rows], [r["mAP"] for r in rows], marker="o", label=stage)
    axes[-1].set(title="test mAP", xlabel="epoch", ylabel="mAP (%)")
    axes[-1].legend()
    return save(fig, work_dir, "curves.png", plt)


@torch.inference_mode()
def positive_embeddings(model, loader, max_images):
    """Label-wise embeddings of the positive labels of up to max_images test images."""
    model.eval()
    embeddings, classes, seen = [], [], 0
    for batch in loader:
        e = model(normalize(batch["image"]))["embeddings"].float()
        img, cls = (batch["target"] == 1).nonzero(as_tuple=True)
        embeddings.append(torch.nn.functional.normalize(e[img, cls], dim=-1))
        classes.append(cls)
        seen += len(batch["image"])
        if seen >= max_images:
            break
    return torch.cat(embeddings).numpy(), torch.cat(classes).numpy()


def project(points, tsne):
    if tsne:
        from sklearn.manifold import TSNE
        return TSNE(2, init="pca", perplexity=min(30, len(points) - 1), random_state=0).fit_transform(points)
    from sklearn.decomposition import PCA
    return PCA(2, random_state=0).fit_transform(points)


def plot_embeddings(work_dir, plt, tsne=False, max_images=300):
    cfg = load_config(os.path.join(work_dir, "config.py"))
    dataset = build_dataset(cfg, "test", log=lambda *a: None)
    loader = make_test_loader(dataset, 64, 0)
    student_path = os.path.join(work_dir, "student_last.pth")
    teacher_path = cfg["teacher_checkpoint"] or os.path.join(work_dir, "teacher_last.pth")
    if not os.path.isfile(teacher_path):
        raise UserError(f"no teacher checkpoint for {work_dir} (looked for {teacher_path})")
    banks = load_checkpoint(student_path).get("distiller", {})
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.5))
    for ax, role, path in ((axes[0], "teacher", teacher_path), (axes[1], "student", student_path)):
        points, classes = positive_embeddings(load_network(path), loader, max_images)
        bank = banks.get(f"bank_{role[0]}.prototypes")
        prototypes = bank.numpy() if bank is not None else np.stack(
            [points[classes == c].mean(0) if (classes == c).any() else np.zeros(points.shape[1])
             for c in range(len(dataset.classes))])
        xy = project(np.concatenate([points, prototypes]), tsne)
        colours = plt.get_cmap("tab20")(np.arange(len(dataset.classes)) % 20)
        ax.scatter(*xy[:len(points)].T, c=colours[classes], s=8, alpha=0.6)
        ax.scatter(*xy[len(points):].T, c=colours, s=160, marker="*", edgecolors="black")
        for c, (x, y) in enumerate(xy[len(points):]):
            ax.annotate(dataset.classes[c], (x, y), fontsize=7)
        kind = "prototype banks" if bank is not None else "class means"
        ax.set(title=f"{role} ({cfg[role]}): label-wise embeddings, {kind} as stars", xticks=[], yticks=[])
    fig.suptitle(f"{'t-SNE' if tsne else 'PCA'} of positive labels of {max_images} test images")
    return save(fig, work_dir, "embeddings.png", plt)


def plot_per_class_ap(work_dir, other_dir, plt):
    runs = []
    for d in (work_dir, other_dir):
        with open(os.path.join(d, "results.json")) as f:
            runs.append(json.load(f))
    classes = runs[0]["classes"]
    x = np.arange(len(classes))
    fig, ax = plt.subplots(figsize=(max(8, len(classes) * 0.5), 4))
    for offset, run, d in ((-0.2, runs[0], work_dir), (0.2, runs[1], other_dir)):
        m = run["student_metrics"]
        ax.bar(x + offset, m["AP"], width=0.4, label=f"{run['method']} ({os.path.basename(os.path.normpath(d))}): "
                                                      f"mAP {m['mAP']:.1f}")
    ax.set_xticks(x, classes, rotation=60, ha="right")
    ax.set(ylabel="AP (%)", title="per-class AP of the students")
    ax.legend()
    return save(fig, work_dir, "per_class_ap.png", plt)


def save(fig, work_dir, name, plt):
    path = os.path.join(work_dir, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work_dir")
    parser.add_argument("--compare", help="another run folder, for the per-class AP bars")
    parser.add_argument("--tsne", action="store_true", help="t-SNE instead of PCA for the embeddings")
    parser.add_argument("--max_images", type=int, default=300)
    args = parser.parse_args(argv)
    plt = pyplot()
    written = [plot_curves(args.work_dir, plt), plot_embeddings(args.work_dir, plt, args.tsne, args.max_images)]
    if args.compare:
        written.append(plot_per_class_ap(args.work_dir, args.compare, plt))
    print("wrote " + ", ".join(written))
    return written


if __name__ == "__main__":
    try:
        main()
    except UserError as e:
        sys.exit(f"error: {e}")
