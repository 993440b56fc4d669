"""Build the VOC 2007 sample of docs/experiments.md from the official VOC 2007 trainval
release (VOCtrainval_06-Nov-2007.tar, extracted):

    python -m datasets.make_voc_sample VOC2007_DIR OUT_DIR [--short_side 256]

VOC2007_DIR holds JPEGImages/, Annotations/ and ImageSets/Main/ (i.e. .../VOCdevkit/VOC2007).
Training images: the official `train` list (2,501). Test images: the official `val` list,
sorted, positions 0, 2, 4, ... (1,255; the odd positions are a held-out half, not written).
No image of the official test set is used. Each image is resized so that its shorter side
is `short_side` px (never upscaled; LANCZOS, JPEG quality 90); annotations are copied
(only class names and difficult flags are read, so their boxes need no rescaling). OUT_DIR
gets the VOCtrainval2007/ and VOCtest2007/ layout that `--data_root` expects."""
import argparse
import os
import shutil
import sys

from PIL import Image

SPLITS = (("VOCtrainval2007", "trainval", "train", slice(None)),
          ("VOCtest2007", "test", "val", slice(0, None, 2)))


def read_ids(voc_dir, name):
    with open(os.path.join(voc_dir, "ImageSets", "Main", f"{name}.txt")) as f:
        return sorted(f.read().split())


def downsize(src, dst, short_side):
    with Image.open(src) as image:
        image = image.convert("RGB")
        scale = short_side / min(image.size)
        if scale < 1:
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
        image.save(dst, quality=90)


def build(voc_dir, out_dir, short_side=256):
    """Writes both splits; returns {split folder: number of images}."""
    counts = {}
    for folder, id_list, official_list, positions in SPLITS:
        ids = read_ids(voc_dir, official_list)[positions]
        dst = os.path.join(out_dir, folder, "VOCdevkit", "VOC2007")
        for sub in ("JPEGImages", "Annotations", os.path.join("ImageSets", "Main")):
            os.makedirs(os.path.join(dst, sub), exist_ok=True)
        for i in ids:
            downsize(os.path.join(voc_dir, "JPEGImages", f"{i}.jpg"), os.path.join(dst, "JPEGImages", f"{i}.jpg"),
                     short_side)
            shutil.copy(os.path.join(voc_dir, "Annotations", f"{i}.xml"), os.path.join(dst, "Annotations"))
        with open(os.path.join(dst, "ImageSets", "Main", f"{id_list}.txt"), "w") as f:
            f.write("\n".join(ids) + "\n")
        counts[folder] = len(ids)
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("voc_dir", help="the extracted official VOCdevkit/VOC2007 folder (trainval release)")
    parser.add_argument("out_dir")
    parser.add_argument("--short_side", type=int, default=256)
    args = parser.parse_args(argv)
    if not os.path.isfile(os.path.join(args.voc_dir, "ImageSets", "Main", "train.txt")):
        sys.exit(f"error: {args.voc_dir}/ImageSets/Main/train.txt is missing; point at VOCdevkit/VOC2007 "
                 "of the VOC 2007 trainval release")
    for folder, n in build(args.voc_dir, args.out_dir, args.short_side).items():
        print(f"{folder}: {n} images")


if __name__ == "__main__":
    main()
