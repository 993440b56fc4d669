_base_ = "../_base_/nuswide.py"
teacher = "resnet101"
student = "resnet34"
distiller = dict(type="mpscd")
