_base_ = "../_base_/voc_sample.py"
teacher = "resnet34"
student = "resnet18"
distiller = dict(type="l2d")
