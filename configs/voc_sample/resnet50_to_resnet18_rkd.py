_base_ = "../_base_/voc_sample.py"
teacher = "resnet50"
student = "resnet18"
distiller = dict(type="rkd")
