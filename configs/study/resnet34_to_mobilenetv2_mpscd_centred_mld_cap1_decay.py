# The previous default with its structure terms decayed linearly to 0 over the student's
# steps: the reverse of a warm-up. The diagnosis (docs/experiments.md) is that they cost
# accuracy by competing with BCE for the label-wise embeddings late in training; decayed,
# the student learns the teacher's geometry early and fits the labels at the end.
_base_ = "resnet34_to_mobilenetv2_mpscd_centred_mld_cap1.py"
distiller = dict(type="mpscd", structure_schedule=((0.0, 1.0), (1.0, 0.0)))
