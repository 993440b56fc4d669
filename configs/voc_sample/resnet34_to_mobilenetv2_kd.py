_base_ = "../_base_/voc_sample.py"
teacher = "resnet34"
student = "mobilenet_v2"
distiller = dict(type="kd")
