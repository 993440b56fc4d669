# MPSCD at full strength, as the seed configs (configs/voc/*_mpscd.py) spell it out: the
# distiller's defaults. The light setting is resnet34_to_mobilenetv2_mpscd_light.py.
_base_ = "../_base_/voc_sample.py"
teacher = "resnet34"
student = "mobilenet_v2"
distiller = dict(type="mpscd")
