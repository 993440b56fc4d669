# The built-in demo and bench: scikit-learn's handwritten digits composed into 32 px
# multi-label images (1 to 4 digits each, unseen handwriting in the test split; no
# download), for the 32 px networks of the KD literature, from scratch on a CPU.
dataset = "demo"
demo = dict(train_size=3000, test_size=2000, canvas=32)
img_size = 32
batch_size = 64
num_workers = 0  # the images are generated in memory: loading in-process is fastest
embed_dim = 128
pretrained = False
augment = dict(flip=False, randaugment=False, cutout=0.25)  # flipped digits are other glyphs
teacher_train = dict(epochs=8, lr=2e-3)
student_train = dict(epochs=8, lr=2e-3)
print_freq = 20
