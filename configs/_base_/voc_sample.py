# The real-data experiment that fits a 2-core CPU: the VOC 2007 sample (docs/usage.md: how to build it)
# (2,501 train / 1,255 test real images), from scratch (no ImageNet weights), at 64 px,
# images decoded once into memory; a resnet34 teacher and mobilenet_v2 students
# (the teacher schedule below says why).
dataset = "voc"
img_size = 64
batch_size = 32
num_workers = 0  # with the image cache, loading in-process beats 2 workers on 2 cores
cache_images = True
pretrained = False
augment = dict(flip=True, randaugment=False, cutout=0.25)  # RandAugment slows learning from scratch at 64 px
# The teacher: resnet34 from scratch, 12 epochs at lr 1e-3. From scratch on 2,501 images at
# 64 px, longer is worse (40 epochs: 25.0 mAP, overfitting) and deeper is worse (a resnet50
# learned far more slowly); the capacity gap to the mobilenet_v2 student is what the table needs.
teacher_train = dict(epochs=12, lr=1e-3)
student_train = dict(epochs=10, lr=1e-3)
eval_interval = 5
print_freq = 40
