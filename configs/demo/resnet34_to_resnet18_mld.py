_base_ = "../_base_/demo_64px.py"
teacher = "resnet34"
student = "resnet18"
distiller = dict(type="mld")
