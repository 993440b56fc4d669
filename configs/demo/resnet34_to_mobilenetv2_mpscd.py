_base_ = "../_base_/demo.py"
teacher = "resnet34"
student = "mobilenet_v2"
distiller = dict(type="mpscd")
