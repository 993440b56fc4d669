# The built-in demo and bench: scikit-learn's handwritten digits composed into 32 px
# multi-label images (1 to 4 digits of 6-10 px in a 3 x 3 grid, random colour and place,
# noise; unseen handwriting in the test split; no download), for the 32 px networks of the
# KD literature, from scratch on a CPU. Recipe from teacher and vanilla runs only
# (docs/experiments.md, sections 8 and 9; ffn_dim chosen on the development handwriting):
# students 10 epochs (at 6 they are still in the steep part of their learning curve; at 15
# they come within 3 mAP of the teacher); the teacher gets 15.
dataset = "demo"
demo = dict(train_size=2000, test_size=2000, canvas=32, grid=3)
img_size = 32
batch_size = 32
num_workers = 0  # the images are generated in memory: loading in-process is fastest
embed_dim = 128
ffn_dim = 512  # 4 x D, as transformers size it; ML-Decoder's 2048 is for D = 768
cache_teacher_outputs = True  # no augmentation: each image's teacher outputs are computed once
pretrained = False
augment = dict(flip=False, randaugment=False, cutout=0.0)  # flipped digits are other glyphs; a cut-out square can erase a whole 32 px digit
teacher_train = dict(epochs=15, lr=2e-3)
student_train = dict(epochs=10, lr=2e-3)
eval_interval = 5
print_freq = 20
