_base_ = "../_base_/voc.py"
teacher = "swin_t"
student = "mobilenet_v2"
distiller = dict(type="mpscd")
