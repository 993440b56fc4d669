# The teacher of the VOC-sample table, trained alone (as the "student" of a vanilla run):
# resnet34 from scratch, 40 epochs at lr 1e-3 (2.7 times the students' schedule).
# (A resnet50 from scratch at 64 px learned too slowly here: 15 mAP after 15 of 40 epochs.)
_base_ = "../_base_/voc_sample.py"
teacher = "resnet34"
student = "resnet34"
distiller = dict(type="vanilla")
student_train = dict(epochs=40, lr=1e-3)
