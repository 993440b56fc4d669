# Your own images and labels, paper recipe (224 px, ImageNet-pretrained resnet50 -> resnet18,
# 80 epochs each): copy this file and edit it. --data_root is a folder holding the images,
# train.csv, test.csv and, optionally, classes.txt (README.md "Your own data", docs/usage.md).
_base_ = "../_base_/paper.py"
dataset = "folder"
# How train.csv and test.csv write the labels:
#   label_format="names":   one line per image, `images/0001.jpg,cat|dog` (no header line);
#                           the names are split by label_delimiter; `images/0002.jpg,` has no label.
#   label_format="columns": a header `path,cat,dog`, then `images/0001.jpg,1,1` (1, 0, or -1: unknown).
# The classes, in the order of the network's outputs: classes.txt (one name a line), else
# every name train.csv uses, sorted. The run folder and checkpoints record them.
folder = dict(label_format="names", label_delimiter="|")
# Data already in COCO or VOC form needs no conversion: instead of the two lines above, e.g.
# dataset = "coco"
# coco = dict(train_images="images", train_annotations="train.json", test_images="images", test_annotations="test.json")
# dataset = "voc"   # the 20 VOC classes; classes="annotations": the names in the training annotations, sorted
# voc = dict(train_folder="VOCdevkit/VOC2012", train_list="train", test_folder="VOCdevkit/VOC2012", test_list="val")
# A small dataset may want fewer epochs: teacher_train=dict(epochs=20), student_train=dict(epochs=20).
teacher = "resnet50"
student = "resnet18"
distiller = dict(type="mpscd")  # at full strength: the distiller's defaults (docs/method.md)
