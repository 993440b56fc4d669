# The first formulation (resnet34_to_mobilenetv2_mpscd_first.py, weights 0.1) plus L2D's
# logit distillation at weight 1: does it add anything on top of MLD?
_base_ = "resnet34_to_mobilenetv2_mpscd_first.py"
distiller = dict(type="mpscd", lambda_mld=1.0)
