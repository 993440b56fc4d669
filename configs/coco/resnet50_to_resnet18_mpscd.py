_base_ = "../_base_/coco.py"
teacher = "resnet50"
student = "resnet18"
distiller = dict(type="mpscd")
