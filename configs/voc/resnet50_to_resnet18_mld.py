_base_ = "../_base_/voc.py"
teacher = "resnet50"
student = "resnet18"
distiller = dict(type="mld")
