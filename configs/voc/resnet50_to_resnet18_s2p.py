# Ablation: PCSD sample-to-prototype only, on top of MLD.
_base_ = "resnet50_to_resnet18_mpscd.py"
distiller = dict(type="mpscd", lambda_pcrd=0.0, lambda_s2s=0.0)
