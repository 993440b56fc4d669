# The centred MPSCD at 10x structure weights (resnet34_to_mobilenetv2_mpscd_centred_mld_x10.py)
# with the structure gradient capped at BCE's: does the cap remove the knife edge?
_base_ = "resnet34_to_mobilenetv2_mpscd_centred_mld_x10.py"
distiller = dict(type="mpscd", structure_grad_cap=1.0)
