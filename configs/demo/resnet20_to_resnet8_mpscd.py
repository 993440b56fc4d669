# MPSCD at full strength, as the seed configs (configs/voc/*_mpscd.py) spell it out: the
# distiller's defaults. The light setting is resnet20_to_resnet8_mpscd_light.py.
_base_ = "../_base_/demo.py"
teacher = "resnet20"
student = "resnet8"
distiller = dict(type="mpscd")
