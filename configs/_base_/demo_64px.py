# The 64 px digits recipe (scikit-learn digits composed into multi-label images):
# no download, a resnet34 teacher and a resnet18 student from scratch on the CPU (2 cores:
# ~9 minutes with native bfloat16, ~57 in float32 on AVX2; README).
# The student gets 6 epochs to the teacher's 20 (with 10, the resnet18 beat its teacher).
# (A mobilenet_v2 student barely learns in 6 epochs from scratch: 27.9 mAP, chance is 23.)
dataset = "demo"
demo = dict(train_size=3000, test_size=1000)
img_size = 64
batch_size = 64
num_workers = 2
pretrained = False
augment = dict(flip=False, randaugment=False, cutout=0.25)  # flipped digits are other glyphs
teacher_train = dict(epochs=20, lr=1e-3)
student_train = dict(epochs=6, lr=1e-3)
print_freq = 20
