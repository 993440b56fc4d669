# The pre-registered bench study (docs/experiments.md, section 8), from pretrained weights
# (its numbers: commit 2dbfa6f; later commits run section 9's recipe, and weights made before
# commit e8b8788 saw the development handwriting: make them again):
# teacher and students start from backbones trained on single digits (mpscd.pretrain),
# made first, from the repository root:
#   python -m mpscd.pretrain --arch resnet20 && python -m mpscd.pretrain --arch resnet8
#   python -m mpscd.table configs/study/tables/bench_pretrained.py --jobs 2
import os

WEIGHTS = [f"teacher_weights='{os.path.join('work_dirs', 'pretrained', 'resnet20_digits.pth')}'",
           f"student_weights='{os.path.join('work_dirs', 'pretrained', 'resnet8_digits.pth')}'"]
METHODS = ("vanilla", "mld", "kd", "l2d", "mpscd", "mpscd_light")
rows = [dict(label=m, config=f"../../demo/resnet20_to_resnet8_{m}.py", opts=WEIGHTS) for m in METHODS]
rows += [dict(label="mpscd_s2p_mld", config="../resnet20_to_resnet8_mpscd_s2p_mld.py", opts=WEIGHTS)]
seeds = list(range(10))
