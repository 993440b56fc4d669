# The paper-scale recipe: 224 px, batch 64, ImageNet-pretrained backbones, Adam 1e-4 with
# OneCycle for 80 epochs (L2D's schedule), for teacher and student alike.
img_size = 224
batch_size = 64
num_workers = 8
pretrained = True
teacher_train = dict(epochs=80, lr=1e-4, weight_decay=1e-4, pct_start=0.2)
student_train = dict(epochs=80, lr=1e-4, weight_decay=1e-4, pct_start=0.2)
