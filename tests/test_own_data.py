"""Your own data: a folder with train.csv / test.csv (dataset = "folder"), COCO-format files
and VOC-layout folders outside the official layouts. Runs on them train, evaluate, predict
and export with the data's class names; bad input is one line naming the file (and line)."""
import csv
import json
import os

import pytest
import torch
from PIL import Image

from conftest import ROOT
import main
from datasets.coco import coco_dataset
from datasets.folder import folder_dataset
from datasets.voc import voc_dataset
from mpscd import export, predict
from mpscd.engine.config import SCHEMA, load_config
from utils import UserError
from utils.checkpoint import load_checkpoint

CUSTOM = os.path.join(ROOT, "configs", "custom", "resnet50_to_resnet18_mpscd.py")
TINY = ["pretrained=False", "img_size=32", "batch_size=4", "num_workers=0", "embed_dim=16", "print_freq=1"]
CLASSES = ("cat", "dog", "bird")
NAMES = SCHEMA["folder"][0]  # label_format="names", label_delimiter="|"
COLUMNS = {**NAMES, "label_format": "columns"}


def save_jpeg(path, i):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (24, 20), (40 * i % 255, 90, 160)).save(path)


def labels_of(i):
    """Image i shows class i % 3, odd images also the next class."""
    return sorted({CLASSES[i % 3], CLASSES[(i + i % 2) % 3]})


def make_folder(root, images_per_split=6):
    """A tiny folder dataset with labels as names, `images/train_000.jpg,cat` (the data of configs/custom/)."""
    for split in ("train", "test"):
        lines = []
        for i in range(images_per_split):
            save_jpeg(root / "images" / f"{split}_{i:03d}.jpg", i)
            lines.append(f"images/{split}_{i:03d}.jpg," + "|".join(labels_of(i)))
        (root / f"{split}.csv").write_text("\n".join(lines) + "\n")
    return root


def make_columns(root, images_per_split=6):
    """The same images with one 0/1 column per class, columns in another order than classes.txt."""
    make_folder(root, images_per_split)
    (root / "classes.txt").write_text("dog\ncat\nbird\n")
    for split in ("train", "test"):
        rows = [f"images/{split}_{i:03d}.jpg," + ",".join(str(int(c in labels_of(i))) for c in sorted(CLASSES))
                for i in range(images_per_split)]
        (root / f"{split}.csv").write_text("path," + ",".join(sorted(CLASSES)) + "\n" + "\n".join(rows) + "\n")
    return root


COCO_OPTIONS = dict(train_images="lvis", train_annotations="labels/lvis_train.json", test_images="pics/test",
                    test_annotations="labels/test.json")


def make_own_coco(root, images_per_split=6):
    """COCO-format files outside MS-COCO's layout: an LVIS-style training file (images named by
    coco_url only) and a test file with file_name; two categories, ids not from MS-COCO."""
    categories = [{"id": 7, "name": "pear"}, {"id": 3, "name": "apple"}]
    for split in ("train", "test"):
        images = []
        for i in range(images_per_split):
            if split == "train":
                save_jpeg(root / "lvis" / "train2017" / f"{i:012d}.jpg", i)
                images.append({"id": i, "coco_url": f"http://images.cocodataset.org/train2017/{i:012d}.jpg"})
            else:
                save_jpeg(root / "pics" / "test" / f"img{i}.jpg", i)
                images.append({"id": i, "file_name": f"img{i}.jpg"})
        annotations = [{"image_id": i, "category_id": 7 if i % 2 else 3} for i in range(images_per_split)]
        (root / "labels").mkdir(exist_ok=True)
        data = {"images": images, "categories": categories, "annotations": annotations}
        (root / COCO_OPTIONS[f"{split}_annotations"]).write_text(json.dumps(data))
    return root


VOC_OPTIONS = dict(train_folder="VOCdevkit/VOC2012", train_list="train", test_folder="VOCdevkit/VOC2012",
                   test_list="val", classes="annotations")


def make_own_voc(root, images_per_split=6, names=("plum", "apple", "pear")):
    """A VOC 2012-style folder (train and val lists in one folder) with other class names."""
    base = root / "VOCdevkit" / "VOC2012"
    (base / "Annotations").mkdir(parents=True)
    (base / "ImageSets" / "Main").mkdir(parents=True)
    for split in ("train", "val"):
        ids = [f"{split}_{i:03d}" for i in range(images_per_split)]
        (base / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(ids) + "\n")
        for i, image_id in enumerate(ids):
            save_jpeg(base / "JPEGImages" / f"{image_id}.jpg", i)
            objects = "".join(f"<object><name>{names[c % 3]}</name></object>" for c in (i, i + i % 2))
            (base / "Annotations" / f"{image_id}.xml").write_text(f"<annotation>{objects}</annotation>")
    return root


def train_evaluate_predict(tmp_path, data_root, *opts):
    """Train (two iterations per stage), evaluate the student checkpoint and predict on the
    test images; returns the classes of results.json, the checkpoint, evaluation.json and predict's CSV."""
    run = tmp_path / "run"
    main.main(["--cfg_file", CUSTOM, "--work_dir", str(run), "--data_root", str(data_root), "--max_iters", "2",
               "--opts", *TINY, *opts])
    checkpoint = str(run / "student_last.pth")
    main.main(["--cfg_file", CUSTOM, "--work_dir", str(tmp_path / "eval"), "--data_root", str(data_root),
               "--evaluate", checkpoint, "--opts", *TINY, *opts])
    images = [str(p) for p in sorted(data_root.rglob("*.jpg"))[:3]]
    predict.main(["--checkpoint", checkpoint, "--images", *images, "--csv", str(tmp_path / "out.csv"),
                  "--workers", "0"])
    with open(tmp_path / "out.csv") as f:
        header = next(csv.reader(f))
    assert header[0] == "image"
    return {"results": json.loads((run / "results.json").read_text())["classes"],
            "checkpoint": load_checkpoint(checkpoint)["classes"],
            "evaluation": json.loads((tmp_path / "eval" / "evaluation.json").read_text())["classes"],
            "predict": header[1:]}


def test_custom_config_on_a_folder_trains_evaluates_predicts_and_exports(tmp_path, capsys):
    data = make_folder(tmp_path / "data")
    classes = train_evaluate_predict(tmp_path, data)  # the config as shipped: MPSCD, teacher and student
    assert all(found == ["bird", "cat", "dog"] for found in classes.values()), classes  # sorted names
    export.main(["--checkpoint", str(tmp_path / "run" / "student_last.pth"), "--output", str(tmp_path / "s.pt2")])
    assert "3 classes" in capsys.readouterr().out
    program = torch.export.load(str(tmp_path / "s.pt2")).module()
    assert program(torch.randn(2, 3, 32, 32)).shape == (2, 3)


@pytest.mark.parametrize("make,opts,expected", [
    (make_columns, ["folder=dict(label_format='columns')"], ["dog", "cat", "bird"]),  # classes.txt's order
    (make_own_coco, ["dataset='coco'", f"coco={COCO_OPTIONS!r}"], ["apple", "pear"]),
    (make_own_voc, ["dataset='voc'", f"voc={VOC_OPTIONS!r}"], ["apple", "pear", "plum"]),
], ids=["columns", "coco", "voc"])
def test_other_kinds_of_own_data_train_evaluate_and_predict(tmp_path, make, opts, expected):
    data = make(tmp_path / "data")
    classes = train_evaluate_predict(tmp_path, data, "distiller=dict(type='vanilla')", *opts)
    assert all(found == expected for found in classes.values()), classes


def test_folder_targets_follow_the_class_list_and_unlabeled_images_are_counted(tmp_path):
    names, columns = make_folder(tmp_path / "names"), make_columns(tmp_path / "columns")
    lines = (names / "train.csv").read_text().splitlines()
    (names / "train.csv").write_text("\n".join([*lines[:2], "images/train_002.jpg", *lines[3:]]) + "\n")
    messages = []
    by_name = folder_dataset(str(names), "train", NAMES, log=messages.append)
    by_column = folder_dataset(str(columns), "train", COLUMNS)
    assert by_name.classes == ["bird", "cat", "dog"] and by_column.classes == ["dog", "cat", "bird"]
    for i in range(6):
        for dataset in (by_name, by_column):
            expected = [float(c in labels_of(i) and not (dataset is by_name and i == 2)) for c in dataset.classes]
            assert dataset.targets[i].tolist() == expected
    assert messages == ["train.csv: 1 of 6 images have no label (kept as all-negative)"]
    assert by_name[0]["image"].size == (24, 20) and by_name.paths[0] == str(names / "images" / "train_000.jpg")
    (columns / "test.csv").write_text("path,bird,cat,dog\nimages/test_000.jpg,-1,1,0\n")
    assert folder_dataset(str(columns), "test", COLUMNS).targets.tolist() == [[0, 1, -1]]  # -1: unknown


def test_folder_names_with_another_delimiter_and_a_class_file(tmp_path):
    root = make_folder(tmp_path)
    (root / "classes.txt").write_text("dog\nbird\ncat\nfish\n")  # fish: in no image, still an output
    (root / "test.csv").write_text("images/test_001.jpg,cat;dog\n")
    dataset = folder_dataset(str(root), "test", {**NAMES, "label_delimiter": ";"})
    assert dataset.classes == ["dog", "bird", "cat", "fish"] and dataset.targets.tolist() == [[1, 0, 1, 0]]


def rewrite(root, name, text):
    (root / name).write_text(text)


# (what is wrong, the label format, how to break a good folder, the split read, the one-line error)
BAD_INPUT = [
    ("missing image", NAMES, lambda r: os.remove(r / "images" / "train_003.jpg"), "train",
     r"train\.csv, line 4: image \S+train_003\.jpg does not exist$"),
    ("missing images", NAMES, lambda r: [os.remove(r / "images" / f"test_00{i}.jpg") for i in (1, 2)], "test",
     r"test\.csv, line 2: image \S+test_001\.jpg does not exist \(1 more images of this file are missing\)$"),
    ("class only test.csv has", NAMES, lambda r: rewrite(r, "test.csv", "images/test_000.jpg,cat\nimages/test_001.jpg,zebra|cat\n"),
     "test", r"test\.csv, line 2: class 'zebra' never occurs in \S+train\.csv; list every class in classes\.txt$"),
    ("class not in classes.txt", NAMES, lambda r: rewrite(r, "classes.txt", "cat\ndog\n"), "train",
     r"train\.csv, line 2: class 'bird' is not in \S+classes\.txt$"),
    ("class twice in classes.txt", NAMES, lambda r: rewrite(r, "classes.txt", "cat\n\ndog\ncat\n"), "test",
     r"classes\.txt, line 4: class 'cat' again \(first on line 1\)$"),
    ("empty label file", NAMES, lambda r: rewrite(r, "test.csv", "\n"), "test", r"label file \S+test\.csv lists no image$"),
    ("no label file", NAMES, lambda r: os.remove(r / "test.csv"), "test", r"label file \S+test\.csv does not exist"),
    ("duplicate path", NAMES, lambda r: rewrite(r, "train.csv", (r / "train.csv").read_text() + "images/./train_000.jpg,dog\n"),
     "train", r"train\.csv, line 7: image images/\./train_000\.jpg again \(first on line 1\)$"),
    ("header of other classes", COLUMNS, lambda r: rewrite(r, "test.csv", "path,cat,cow,dog\nimages/test_000.jpg,1,0,0\n"),
     "test", r"test\.csv, line 1: the header's classes differ from those of \S+classes\.txt: "
             r"missing \['bird'\], not in that list \['cow'\]$"),
    ("header only", COLUMNS, lambda r: rewrite(r, "train.csv", "path,bird,cat,dog\n"), "train",
     r"label file \S+train\.csv lists no image$"),
    ("class twice in the header", COLUMNS, lambda r: rewrite(r, "test.csv", "path,bird,cat,cat\n"), "test",
     r"test\.csv, line 1: the header's column 4 is 'cat' again$"),
    ("value not 0/1", COLUMNS, lambda r: rewrite(r, "test.csv", "path,bird,cat,dog\nimages/test_000.jpg,0,yes,0\n"),
     "test", r"test\.csv, line 2: column 'cat' holds 'yes'; a column holds 1, 0 or -1 \(unknown\)$"),
    ("missing field", COLUMNS, lambda r: rewrite(r, "test.csv", "path,bird,cat,dog\n\nimages/test_000.jpg,0,1\n"),
     "test", r"test\.csv, line 3: 3 fields, but the header \(line 1\) has 4$"),
]


@pytest.mark.parametrize("what,options,breaks,split,error", BAD_INPUT, ids=[case[0] for case in BAD_INPUT])
def test_bad_folder_input_is_one_line_naming_file_and_line(tmp_path, what, options, breaks, split, error):
    root = (make_columns if options["label_format"] == "columns" else make_folder)(tmp_path)
    breaks(root)
    with pytest.raises(UserError, match=error) as raised:
        folder_dataset(str(root), split, options)
    assert "\n" not in str(raised.value)


def test_folder_errors_reach_the_command_line_as_one_line(tmp_path, capsys):
    root = make_folder(tmp_path / "data")
    os.remove(root / "images" / "test_005.jpg")
    with pytest.raises(SystemExit):
        main.cli(["--cfg_file", CUSTOM, "--work_dir", str(tmp_path / "run"), "--data_root", str(root), "--opts", *TINY])
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1 and "test.csv, line 6: image" in error


def test_own_coco_files(tmp_path):
    root = make_own_coco(tmp_path)
    train = coco_dataset(str(root), "train", COCO_OPTIONS)
    assert train.classes == ["apple", "pear"]  # ascending category id: apple is 3, pear 7
    assert train.paths[1] == str(root / "lvis" / "train2017" / "000000000001.jpg") and train.targets[1].tolist() == [0, 1]
    data = json.loads((root / "labels" / "test.json").read_text())
    data["annotations"].append({"image_id": 99, "category_id": 3})
    (root / "labels" / "test.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match=r"test\.json: annotation 6 names image 99 and category 3"):
        coco_dataset(str(root), "test", COCO_OPTIONS)
    with pytest.raises(UserError, match=r"COCO: \S+val\.json is missing; .* coco\.test_annotations"):
        coco_dataset(str(root), "test", {**COCO_OPTIONS, "test_annotations": "labels/val.json"})
    data = json.loads((root / "labels" / "lvis_train.json").read_text())
    del data["images"][2]["coco_url"]
    (root / "labels" / "lvis_train.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match=r"lvis_train\.json is not a COCO instances file: a field 'coco_url' is missing"):
        coco_dataset(str(root), "train", COCO_OPTIONS)


def test_own_voc_folders_with_classes_from_annotations_or_a_file(tmp_path):
    root = make_own_voc(tmp_path)
    train, test = (voc_dataset(str(root), split, VOC_OPTIONS) for split in ("train", "test"))
    assert train.classes == test.classes == ["apple", "pear", "plum"]
    assert train.targets[1].tolist() == [1, 1, 0]  # image 1: apple and pear
    (root / "my_classes.txt").write_text("pear\nplum\napple\n")
    assert voc_dataset(str(root), "test", {**VOC_OPTIONS, "classes": "my_classes.txt"}).classes == ["pear", "plum", "apple"]
    xml = root / "VOCdevkit" / "VOC2012" / "Annotations" / "val_004.xml"
    xml.write_text("<annotation><object><name>kiwi</name></object></annotation>")
    with pytest.raises(UserError, match=r"unknown class 'kiwi' in \S+val_004\.xml: it is not among the classes of the "
                                        r"training annotations$"):
        voc_dataset(str(root), "test", VOC_OPTIONS)
    with pytest.raises(UserError, match=r"unknown class 'plum' in \S+train_000\.xml: it is not among the 20 VOC classes"):
        voc_dataset(str(root), "train", {**VOC_OPTIONS, "classes": "voc2007"})


@pytest.mark.parametrize("override,key", [("folder=dict(label_format='csv')", "folder.label_format"),
                                          ("folder=dict(label_delimiter='')", "folder.label_delimiter"),
                                          ("coco=dict(train_images=None)", "coco.train_images"),
                                          ("voc=dict(classes=20)", "voc.classes"),
                                          ("voc=dict(year=2012)", "voc")])
def test_data_layout_keys_are_checked(override, key):
    with pytest.raises(UserError, match=rf"^{key}\b.* in --opts: "):
        load_config(CUSTOM, [override])
