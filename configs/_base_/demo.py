# The built-in demo dataset (scikit-learn digits composed into multi-label images):
# no download, trains on the CPU in minutes.
dataset = "demo"
img_size = 64
batch_size = 64
num_workers = 2
pretrained = False
augment = dict(flip=False, randaugment=False, cutout=0.25)  # flipped digits are other glyphs
teacher_train = dict(epochs=12, lr=1e-3)
student_train = dict(epochs=6, lr=1e-3)
print_freq = 20
