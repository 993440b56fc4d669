# Ablation: full MPSCD without batch-wise prototype correction (prototypes fixed after init).
_base_ = "resnet50_to_resnet18_mpscd.py"
distiller = dict(type="mpscd", prototype_momentum=1.0)
