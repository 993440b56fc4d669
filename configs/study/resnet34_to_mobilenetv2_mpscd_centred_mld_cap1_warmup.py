# The previous default (PCRD 0.1, S2S 0.1, S2P 1, capped at BCE's gradient) with its
# structure terms warmed up linearly from 0 over the first 20% of the student's steps
# (DKD's warm-up of distillation weights): does keeping them off
# while the student's features are still noise let the stronger weights pay?
_base_ = "resnet34_to_mobilenetv2_mpscd_centred_mld_cap1.py"
distiller = dict(type="mpscd", structure_schedule=((0.0, 0.0), (0.2, 1.0)))
