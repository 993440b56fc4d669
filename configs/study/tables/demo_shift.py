# The demo table's rows on a recipe with room for distillation (docs/experiments.md,
# section 12, chosen on development handwriting): every training image moved by up to 4 px
# (so the teacher's outputs are computed at every step), a 30-epoch teacher, 20-epoch students:
#   python -m mpscd.table configs/study/tables/demo_shift.py --jobs 2 --seeds 0 1 2 3 4
# (about 20 minutes on 2 CPU cores, weights and teacher included), then without --seeds
# (0-9) into the same folder (17 minutes more).
SHIFT = ["augment=dict(shift=4)", "cache_teacher_outputs=False",
         "teacher_train=dict(epochs=30)", "student_train=dict(epochs=20)"]
METHODS = ("vanilla", "mld", "kd", "l2d", "mpscd", "mpscd_light")
rows = [dict(label=m, config=f"../../demo/resnet20_to_resnet8_{m}.py", opts=SHIFT) for m in METHODS]
rows += [dict(label="mpscd_s2p_mld", config="../resnet20_to_resnet8_mpscd_s2p_mld.py", opts=SHIFT)]
seeds = list(range(10))
