_base_ = "../_base_/voc.py"
teacher = "repvgg_a2"
student = "repvgg_a0"
distiller = dict(type="mpscd")
