_base_ = "../_base_/demo.py"
teacher = "resnet20"
student = "resnet8"
distiller = dict(type="l2d")
