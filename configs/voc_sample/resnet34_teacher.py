# The teacher of the VOC-sample table, trained alone (as the "student" of a vanilla run):
# resnet34 from scratch, 12 epochs at lr 1e-3. From scratch on 2,501 images at 64 px, longer
# is worse (40 epochs: 25.0 mAP, overfitting) and deeper is worse (a resnet50 learned far
# more slowly); the capacity gap to the mobilenet_v2 student is what the table needs.
_base_ = "../_base_/voc_sample.py"
teacher = "resnet34"
student = "resnet34"
distiller = dict(type="vanilla")
student_train = dict(epochs=12, lr=1e-3)
