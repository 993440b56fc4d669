# Ablation: full MPSCD without batch-wise prototype correction: each bank keeps the
# prototypes of the initial pass of its network over the training set.
_base_ = "resnet50_to_resnet18_mpscd.py"
distiller = dict(type="mpscd", prototype_momentum=1.0)
