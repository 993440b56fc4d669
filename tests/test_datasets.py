import json
import os

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T

from conftest import VOC_SAMPLE, needs_voc_sample
from datasets import build_dataset
from datasets.base import load_rgb
from datasets.coco import coco_dataset
from datasets.demo import DigitsDemo, digit_scans
from datasets.nuswide import nuswide
from datasets.transforms import IMAGENET_MEAN, IMAGENET_STD, MEAN_COLOUR, Cutout, RandomShift, build_transform, normalize
from datasets.voc import VOC_CLASSES, voc_dataset
from mpscd.engine.config import SCHEMA, load_config
from mpscd.engine.data import make_train_loader
from mpscd.engine.evaluation import network_input
from utils import UserError

VOC, COCO = SCHEMA["voc"][0], SCHEMA["coco"][0]  # the config's defaults: VOC 2007, MS-COCO 2014

# Images per class of the VOC 2007 sample, as its maker counted them: (train "1", train "0", test "1", test "0").
README_COUNTS = {
    "aeroplane": (112, 1, 72, 1), "bicycle": (116, 6, 64, 4), "bird": (180, 2, 80, 1), "boat": (81, 6, 47, 0),
    "bottle": (139, 14, 52, 3), "bus": (97, 3, 44, 2), "car": (376, 26, 177, 10), "cat": (163, 3, 78, 2),
    "chair": (224, 58, 119, 38), "cow": (69, 2, 37, 0), "diningtable": (97, 33, 47, 16), "dog": (203, 7, 103, 0),
    "horse": (139, 5, 69, 2), "motorbike": (120, 3, 58, 0), "person": (1025, 45, 508, 21),
    "pottedplant": (133, 20, 57, 5), "sheep": (48, 1, 30, 0), "sofa": (111, 77, 61, 30), "train": (127, 1, 70, 1),
    "tvmonitor": (128, 16, 60, 2),
}


@needs_voc_sample
@pytest.mark.parametrize("split,column", [("train", 0), ("test", 2)])
def test_voc_sample_class_counts_match_its_readme(split, column):
    ignore = voc_dataset(VOC_SAMPLE, split, VOC, difficult="ignore")
    positive = voc_dataset(VOC_SAMPLE, split, VOC, difficult="positive")
    assert len(ignore) == {"train": 2501, "test": 1255}[split]
    for c, name in enumerate(VOC_CLASSES):
        ones, zeros = README_COUNTS[name][column], README_COUNTS[name][column + 1]
        assert (ignore.targets[:, c] == 1).sum() == ones, name
        assert (ignore.targets[:, c] == -1).sum() == zeros, name
        assert (positive.targets[:, c] == 1).sum() == ones + zeros, name
    item = ignore[0]
    assert item["image"].mode == "RGB" and item["target"].shape == (20,)


def make_voc(root, ids=("000001", "000002"), objects=(("dog", 0), ("person", 1))):
    base = root / "VOCtrainval2007" / "VOCdevkit" / "VOC2007"
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (base / sub).mkdir(parents=True)
    (base / "ImageSets/Main/trainval.txt").write_text("\n".join(ids) + "\n")
    for i in ids:
        Image.new("RGB", (20, 16), (i.__hash__() % 255, 0, 0)).save(base / "JPEGImages" / f"{i}.jpg")
        objs = "".join(f"<object><name>{n}</name><difficult>{d}</difficult></object>" for n, d in objects)
        (base / "Annotations" / f"{i}.xml").write_text(f"<annotation>{objs}</annotation>")
    return base


def test_voc_reader_without_optional_fields_and_its_errors(tmp_path):
    base = make_voc(tmp_path)
    ds = voc_dataset(str(tmp_path), "train", VOC, difficult="ignore")
    assert ds.targets[0, VOC_CLASSES.index("dog")] == 1 and ds.targets[0, VOC_CLASSES.index("person")] == -1
    with pytest.raises(UserError, match="VOCtest2007.*missing"):
        voc_dataset(str(tmp_path), "test", VOC)
    (base / "Annotations" / "000002.xml").write_text("<annotation><object><name>doggo</name></object></annotation>")
    with pytest.raises(UserError, match="doggo.*000002.xml"):
        voc_dataset(str(tmp_path), "train", VOC)
    os.remove(base / "Annotations" / "000002.xml")
    with pytest.raises(UserError, match="000002.xml does not exist"):
        voc_dataset(str(tmp_path), "train", VOC)


def test_coco_reader_on_official_format(tmp_path):
    (tmp_path / "annotations").mkdir()
    (tmp_path / "val2014").mkdir()
    for name in ("COCO_val2014_000000000042.jpg", "COCO_val2014_000000000073.jpg", "COCO_val2014_000000000074.jpg"):
        Image.new("RGB", (8, 8)).save(tmp_path / "val2014" / name)
    data = {"images": [{"id": 73, "file_name": "COCO_val2014_000000000073.jpg"},
                       {"id": 42, "file_name": "COCO_val2014_000000000042.jpg"},
                       {"id": 74, "file_name": "COCO_val2014_000000000074.jpg"}],
            "categories": [{"id": 18, "name": "dog"}, {"id": 1, "name": "person"}, {"id": 3, "name": "car"}],
            "annotations": [{"image_id": 42, "category_id": 18}, {"image_id": 42, "category_id": 1},
                            {"image_id": 73, "category_id": 3}]}
    (tmp_path / "annotations" / "instances_val2014.json").write_text(json.dumps(data))
    messages = []
    ds = coco_dataset(str(tmp_path), "test", COCO, log=messages.append)
    assert ds.classes == ["person", "car", "dog"]  # ascending category id
    assert ds.targets.tolist() == [[1, 0, 1], [0, 1, 0], [0, 0, 0]]
    assert "1 of 3 images have no annotation (kept" in messages[0]
    assert len(coco_dataset(str(tmp_path), "test", COCO, drop_unlabeled=True, log=messages.append)) == 2
    with pytest.raises(UserError, match="instances_train2014.json"):
        coco_dataset(str(tmp_path), "train", COCO)


def test_nuswide_reader_skips_and_reports_missing_images(tmp_path):
    for sub in ("Flickr/actor", "Flickr/airport", "ImageList", "TrainTestLabels"):
        (tmp_path / sub).mkdir(parents=True)
    (tmp_path / "Concepts81.txt").write_text("airport\nanimal\n")
    (tmp_path / "ImageList" / "TestImagelist.txt").write_text("actor\\0001_1.jpg\nairport\\0002_2.jpg\nactor\\0003_3.jpg\n")
    (tmp_path / "TrainTestLabels" / "Labels_airport_Test.txt").write_text("0\n1\n0\n")
    (tmp_path / "TrainTestLabels" / "Labels_animal_Test.txt").write_text("1\n0\n1\n")
    Image.new("RGB", (8, 8)).save(tmp_path / "Flickr/actor/0001_1.jpg")
    Image.new("RGB", (8, 8)).save(tmp_path / "Flickr/airport/0002_2.jpg")
    messages = []
    ds = nuswide(str(tmp_path), "test", log=messages.append)
    assert ds.classes == ["airport", "animal"] and ds.targets.tolist() == [[0, 1], [1, 0]]
    assert "1 of 3 listed images are missing" in messages[0]


def test_demo_dataset_is_deterministic_and_multilabel():
    a, b = DigitsDemo("test", test_size=50, seed=3), DigitsDemo("test", test_size=50, seed=3)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.targets, b.targets)
    assert not np.array_equal(a.images, DigitsDemo("test", test_size=50, seed=4).images)
    counts = a.targets.sum(1)
    assert counts.min() >= 1 and counts.max() <= 4 and counts.mean() > 1.5
    assert a.images.shape == (50, 64, 64, 3)


def test_demo_splits_use_disjoint_handwriting():
    scans = {split: {bytes(scan) for scan in digit_scans(split).images.astype(np.uint8)}
             for split in ("train", "dev", "test")}
    assert [len(scans[split]) for split in ("train", "dev", "test")] == [1000, 200, 597]
    assert not scans["train"] & scans["dev"] and not scans["train"] & scans["test"] and not scans["dev"] & scans["test"]
    dev = DigitsDemo("test", test_size=20, seed=3, heldout="dev")
    assert not np.array_equal(dev.images, DigitsDemo("test", test_size=20, seed=3).images)


def test_build_dataset_needs_data_root(tmp_path):
    cfg = load_config(os.path.join(os.path.dirname(__file__), "..", "configs", "voc", "resnet50_to_resnet18_mpscd.py"))
    with pytest.raises(UserError, match="--data_root"):
        build_dataset(cfg, "train")
    cfg["data_root"] = str(tmp_path)
    with pytest.raises(UserError, match="VOCtrainval2007.*missing"):
        build_dataset(cfg, "train")


def test_make_voc_sample_from_an_official_style_release(tmp_path):
    from datasets.make_voc_sample import main as make_voc_sample
    official = tmp_path / "VOC2007"
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (official / sub).mkdir(parents=True)
    train, val = ["000012", "000017", "000023"], ["000005", "000007", "000009", "000016", "000019"]
    for n, i in enumerate(train + val):
        Image.new("RGB", (500, 300 + n), (n * 20, 90, 0)).save(official / "JPEGImages" / f"{i}.jpg")
        (official / "Annotations" / f"{i}.xml").write_text(
            f"<annotation><object><name>{VOC_CLASSES[n]}</name><difficult>0</difficult></object></annotation>")
    (official / "ImageSets" / "Main" / "train.txt").write_text("\n".join(train) + "\n")
    (official / "ImageSets" / "Main" / "val.txt").write_text("\n".join(reversed(val)) + "\n")
    make_voc_sample([str(official), str(tmp_path / "sample"), "--short_side", "64"])
    cfg = load_config(os.path.join(os.path.dirname(__file__), "..", "configs", "voc", "resnet50_to_resnet18_vanilla.py"),
                      [f"data_root={str(tmp_path / 'sample')!r}"])
    train_set, test_set = build_dataset(cfg, "train", log=lambda m: None), build_dataset(cfg, "test", log=lambda m: None)
    assert len(train_set) == 3 and len(test_set) == 3  # val sorted, even positions: 000005, 000009, 000019
    assert train_set.classes == test_set.classes == list(VOC_CLASSES)  # the default voc dict: VOC 2007's order
    test_ids = (tmp_path / "sample" / "VOCtest2007" / "VOCdevkit" / "VOC2007" / "ImageSets" / "Main" / "test.txt")
    assert test_ids.read_text().split() == ["000005", "000009", "000019"]
    with Image.open(tmp_path / "sample" / "VOCtrainval2007" / "VOCdevkit" / "VOC2007" / "JPEGImages" / "000012.jpg") as im:
        assert min(im.size) == 64 and im.size[0] == round(500 * 64 / 300)
    assert train_set.targets[0].sum() == 1


def test_persistent_loader_workers_give_every_epoch_the_in_process_batches():
    """Workers live across epochs; the batches of each epoch (and of a resumed one) are still
    those of a loader without workers, RandAugment and Cutout included."""
    cfg = load_config(os.path.join(os.path.dirname(__file__), "..", "configs", "demo", "resnet34_to_resnet18_vanilla.py"),
                      ["demo=dict(train_size=24, test_size=8)", "img_size=32",
                       "augment=dict(flip=True, randaugment=True, cutout=0.5)"])
    dataset = build_dataset(cfg, "train", log=lambda *a: None)
    workers, in_process = make_train_loader(dataset, 4, 2, seed=5), make_train_loader(dataset, 4, 0, seed=5)
    assert workers.persistent_workers and not in_process.persistent_workers
    for epoch, start in ((0, 0), (1, 0), (1, 8), (2, 0)):
        for loader in (workers, in_process):
            loader.sampler.set_epoch(epoch, start)
        for a, b in zip(workers, in_process, strict=True):
            assert torch.equal(a["image"], b["image"]) and torch.equal(a["index"], b["index"])


def test_uint8_images_normalised_on_the_device_equal_torchvisions_float_pipeline():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8))
    reference = T.Normalize(IMAGENET_MEAN, IMAGENET_STD)(T.ToTensor()(T.Resize((32, 32))(image)))
    item = build_transform(32, train=False)(image)
    assert item.dtype == torch.uint8 and item.shape == (3, 32, 32)
    assert torch.allclose(network_input(item[None], torch.device("cpu"))[0], reference, atol=1e-5)


@pytest.mark.parametrize("shape", [(40, 56, 3), (32, 32, 3)], ids=["resized", "at_size"])
def test_transforms_equal_torchvisions_bit_for_bit(shape):
    """build_transform writes Resize, the flip and PILToTensor itself (torchvision is
    imported only for RandAugment): the same tensors as torchvision's, random draws included."""
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8))
    for train in (False, True):
        ours = build_transform(32, train, flip=True, randaugment=True, cutout=0.5)
        steps = [T.Resize((32, 32)), *([T.RandomHorizontalFlip(), T.RandAugment()] if train else []), T.PILToTensor(),
                 *([Cutout(0.5)] if train else [])]
        for seed in range(8):  # flipped and not
            torch.manual_seed(seed)
            expected = T.Compose(steps)(image)
            torch.manual_seed(seed)
            assert torch.equal(ours(image), expected), (train, seed)


def test_cutout_fills_a_square_with_the_mean_colour():
    torch.manual_seed(3)
    image = torch.full((3, 32, 32), 255, dtype=torch.uint8)
    out = normalize(Cutout(0.5)(image)[None])[0]
    hole = (out.abs() < 1 / 57).all(0)  # zero to within one uint8 step, 1 / (255 * std)
    assert 0 < hole.sum() <= 16 * 16 and (out[:, ~hole] > 2).all() and (image == 255).all()


def test_random_shift_moves_the_image_within_its_padding():
    image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    offsets = set()
    for seed in range(40):
        torch.manual_seed(seed)
        out = RandomShift(4)(image)
        found = [(dy, dx) for dy in range(-4, 5) for dx in range(-4, 5)
                 if torch.equal(out[:, max(dy, 0):32 + min(dy, 0), max(dx, 0):32 + min(dx, 0)],
                                image[:, max(-dy, 0):32 + min(-dy, 0), max(-dx, 0):32 + min(-dx, 0)])]
        assert out.shape == image.shape and len(found) == 1
        dy, dx = found[0]
        border = torch.ones(32, 32, dtype=torch.bool)
        border[max(dy, 0):32 + min(dy, 0), max(dx, 0):32 + min(dx, 0)] = False
        assert (out[:, border] == MEAN_COLOUR.view(3, 1)).all()
        offsets.add(found[0])
    assert len(offsets) > 20  # many of the 81 offsets, (0, 0) among them or not


def test_jpegs_are_decoded_at_a_reduced_scale_no_smaller_than_the_training_size(tmp_path):
    path = str(tmp_path / "big.jpg")
    gradient = np.linspace(0, 255, 400, dtype=np.uint8)
    Image.fromarray(np.stack([np.tile(gradient, (300, 1))] * 3, -1)).save(path)
    assert load_rgb(path).size == (400, 300)
    assert load_rgb(path, 64).size == (100, 75)  # 1/4: 1/8 would leave 37 < 64 rows
    assert load_rgb(path, 160).size == (400, 300)  # 1/2 would leave 150 < 160 rows
    full, reduced = (build_transform(64, train=False)(load_rgb(path, size)).float() for size in (None, 64))
    assert (full - reduced).abs().mean() < 2
