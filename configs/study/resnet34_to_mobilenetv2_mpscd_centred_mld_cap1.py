# The previous default (docs/experiments.md, sections 3-6): the centred MPSCD + MLD at
# weights PCRD 0.1, S2S 0.1, S2P 1 with the structure gradient cap at BCE's, i.e. 10x
# the light setting (configs/voc_sample/resnet34_to_mobilenetv2_mpscd_light.py).
_base_ = "resnet34_to_mobilenetv2_mpscd_centred_mld.py"
distiller = dict(type="mpscd", structure_grad_cap=1.0)
