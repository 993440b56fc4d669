# The built-in demo and bench: scikit-learn's handwritten digits composed into 32 px
# multi-label images (1 to 4 digits of 6-10 px in a 3 x 3 grid, random colour and place,
# noise; unseen handwriting in the test split; no download), for the 32 px networks of the
# KD literature on a CPU. As the paper's networks start from ImageNet weights, these start
# from weights learnt on single digits (pretrained=True: mpscd.pretrain's, made by the
# first run that needs them), and learn the multi-label task from 500 images: there the
# teacher stays 5.5-6.7 mAP above a vanilla student whose seed-to-seed sd is 0.9-1.3 (from
# scratch, or with 2,000 images, one of the two fails; docs/experiments.md, sections 8-11).
dataset = "demo"
demo = dict(train_size=500, test_size=2000, canvas=32, grid=3)
img_size = 32
batch_size = 32
num_workers = 0  # the images are generated in memory: loading in-process is fastest
embed_dim = 128
ffn_dim = 512  # 4 x D, as transformers size it; ML-Decoder's 2048 is for D = 768
cache_teacher_outputs = True  # no augmentation: each image's teacher outputs are computed once
pretrained = True
channels_last = "always"  # NHWC: these small networks train faster in it on a CPU, in float32 too
augment = dict(flip=False, randaugment=False, cutout=0.0)  # flipped digits are other glyphs; a cut-out square can erase a whole 32 px digit
teacher_train = dict(epochs=15, lr=2e-3)
student_train = dict(epochs=10, lr=2e-3)
eval_interval = 0  # the test split once, after the last epoch: the quick start has no time to spare
print_freq = 20
