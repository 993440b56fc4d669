# MPSCD at full strength, as the seed configs (configs/voc/*_mpscd.py) spell it out: the
# distiller's defaults. The light setting is resnet34_to_resnet18_mpscd_light.py.
_base_ = "../_base_/demo_64px.py"
teacher = "resnet34"
student = "resnet18"
distiller = dict(type="mpscd")
