# The teacher of the VOC-sample table, trained alone (as the "student" of a vanilla run):
# resnet50 from scratch, 40 epochs at lr 1e-3 (2.7 times the students' schedule).
_base_ = "../_base_/voc_sample.py"
teacher = "resnet50"
student = "resnet50"
distiller = dict(type="vanilla")
student_train = dict(epochs=40, lr=1e-3)
