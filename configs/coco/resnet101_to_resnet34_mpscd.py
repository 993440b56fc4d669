_base_ = "../_base_/coco.py"
teacher = "resnet101"
student = "resnet34"
distiller = dict(type="mpscd")
