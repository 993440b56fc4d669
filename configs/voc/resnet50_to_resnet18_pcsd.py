# Ablation: PCSD (sample-to-sample + sample-to-prototype) on top of MLD, no PCRD.
_base_ = "resnet50_to_resnet18_mpscd.py"
distiller = dict(type="mpscd", lambda_pcrd=0.0)
