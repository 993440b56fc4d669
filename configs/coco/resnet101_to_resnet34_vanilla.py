_base_ = "resnet101_to_resnet34_mpscd.py"
distiller = dict(type="vanilla")
