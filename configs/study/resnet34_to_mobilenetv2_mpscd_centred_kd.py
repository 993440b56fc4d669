# The centred MPSCD with its logit term at temperature 4 (KD's softened form, T^2-scaled)
# instead of MLD's T = 1: KD beat MLD on this recipe (docs/experiments.md), so this asks whether
# the structure terms add to the better logit term.
_base_ = "resnet34_to_mobilenetv2_mpscd_centred_mld.py"
distiller = dict(type="mpscd", logit_temperature=4.0)
