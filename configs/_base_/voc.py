# PASCAL VOC 2007 (trainval -> test), paper recipe.
_base_ = "paper.py"
dataset = "voc"
