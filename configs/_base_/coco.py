# MS-COCO 2014 (train2014 -> val2014), paper recipe.
_base_ = "paper.py"
dataset = "coco"
