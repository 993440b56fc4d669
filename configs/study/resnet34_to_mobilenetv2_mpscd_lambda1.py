# The first formulation (resnet34_to_mobilenetv2_mpscd_first.py) with weight 1 on each term
# (the weights of the first specification).
_base_ = "resnet34_to_mobilenetv2_mpscd_first.py"
distiller = dict(type="mpscd", lambda_pcrd=1.0, lambda_s2s=1.0, lambda_s2p=1.0)
