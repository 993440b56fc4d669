_base_ = "../_base_/voc.py"
teacher = "wrn101"
student = "wrn50"
distiller = dict(type="mpscd")
