import json
import os
import shutil
import sys

import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# The real VOC 2007 sample (3,756 images in the VOC layout, README): its folder in this
# environment variable; the tests that need it skip without it.
VOC_SAMPLE = os.environ.get("MPSCD_VOC_SAMPLE", "")
NO_VOC_SAMPLE = "MPSCD_VOC_SAMPLE does not name a folder (the VOC 2007 sample)"

needs_voc_sample = pytest.mark.skipif(not os.path.isdir(VOC_SAMPLE), reason=NO_VOC_SAMPLE)


def demo_config(method="mpscd"):
    """The quick start's pair (resnet20 -> resnet8, 32 px) with `method`: small networks
    keep the tests' runs and checkpoints small."""
    return os.path.join(ROOT, "configs", "demo", f"resnet20_to_resnet8_{method}.py")


def demo_opts(*extra):
    """--opts for a tiny, fast demo run, from random weights."""
    return ["demo=dict(train_size=96, test_size=48)", "pretrained=False", "img_size=32", "batch_size=16", "num_workers=0",
            "embed_dim=32", "print_freq=1", *extra]


def copy_voc_sample(root, per_split=8):
    """A VOC-layout copy of the first images of each split of the VOC sample (skips without it)."""
    if not os.path.isdir(VOC_SAMPLE):
        pytest.skip(NO_VOC_SAMPLE)
    for folder, id_list in (("VOCtrainval2007", "trainval"), ("VOCtest2007", "test")):
        src = os.path.join(VOC_SAMPLE, folder, "VOCdevkit", "VOC2007")
        dst = root / folder / "VOCdevkit" / "VOC2007"
        for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
            (dst / sub).mkdir(parents=True)
        ids = open(os.path.join(src, "ImageSets", "Main", f"{id_list}.txt")).read().split()[:per_split]
        (dst / "ImageSets" / "Main" / f"{id_list}.txt").write_text("\n".join(ids) + "\n")
        for i in ids:
            shutil.copy(os.path.join(src, "JPEGImages", f"{i}.jpg"), dst / "JPEGImages")
            shutil.copy(os.path.join(src, "Annotations", f"{i}.xml"), dst / "Annotations")
    return root


def make_coco(root, images_per_split=6, classes=("person", "car", "dog")):
    """A tiny MS-COCO 2014 tree in the official layout, every image labelled."""
    (root / "annotations").mkdir(parents=True)
    categories = [{"id": 10 * (c + 1), "name": name} for c, name in enumerate(classes)]
    for split in ("train2014", "val2014"):
        (root / split).mkdir()
        images, annotations = [], []
        for i in range(images_per_split):
            name = f"COCO_{split}_{i:012d}.jpg"
            Image.new("RGB", (24, 20), (40 * i % 255, 90, 0)).save(root / split / name)
            images.append({"id": i, "file_name": name})
            annotations.append({"image_id": i, "category_id": categories[i % len(classes)]["id"]})
        data = {"images": images, "categories": categories, "annotations": annotations}
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(data))
    return root


def make_nuswide(root, images_per_split=6, concepts=("airport", "animal", "beach")):
    """A tiny NUS-WIDE tree in the layout README describes, every image present and labelled."""
    for sub in ("Flickr/actor", "ImageList", "TrainTestLabels"):
        (root / sub).mkdir(parents=True)
    (root / "Concepts81.txt").write_text("\n".join(concepts) + "\n")
    for split in ("Train", "Test"):
        names = [f"{split}_{i:04d}.jpg" for i in range(images_per_split)]
        for i, name in enumerate(names):
            Image.new("RGB", (24, 20), (0, 40 * i % 255, 90)).save(root / "Flickr" / "actor" / name)
        (root / "ImageList" / f"{split}Imagelist.txt").write_text("".join(f"actor\\{n}\n" for n in names))
        for c, concept in enumerate(concepts):
            labels = "".join(f"{int(i % len(concepts) == c)}\n" for i in range(images_per_split))
            (root / "TrainTestLabels" / f"Labels_{concept}_{split}.txt").write_text(labels)
    return root


@pytest.fixture(scope="session")
def exact_reference(tmp_path_factory):
    """The uninterrupted run (test_reliability.EXACT) that every kill-, stop- and resume test
    must reproduce bit for bit; started in the background when the first test asks for it.
    Loader workers, checkpoints and signal settings do not change a run's numbers, so the
    tests that vary them share this one run."""
    from test_reliability import BackgroundRun, command
    work_dir = tmp_path_factory.mktemp("reference")
    with BackgroundRun(command(work_dir), work_dir) as run:
        yield run


@pytest.fixture(scope="session")
def torchrun_reference(tmp_path_factory):
    """The same for two gloo ranks under torchrun (test_reliability.torchrun_command)."""
    from test_reliability import BackgroundRun, torchrun_command
    work_dir = tmp_path_factory.mktemp("torchrun_reference")
    with BackgroundRun(torchrun_command(work_dir), work_dir) as run:
        yield run
