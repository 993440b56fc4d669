_base_ = "resnet50_to_resnet18_mpscd.py"
distiller = dict(type="vanilla")
