# Ablation: PCRD only, on top of the logit term (MLD; MLD alone is resnet50_to_resnet18_mld.py).
_base_ = "resnet50_to_resnet18_mpscd.py"
distiller = dict(type="mpscd", lambda_s2s=0.0, lambda_s2p=0.0)
