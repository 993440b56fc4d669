# The VOC-sample study at a GPU recipe: 128 px, 30 epochs for teacher and students,
# batch 64, from scratch (the 64 px table, configs/tables/voc_sample.py, is the one for a CPU):
#   python -m mpscd.table configs/study/tables/voc_sample_128px.py --data_root DATA --jobs 12
# DATA: the VOC sample, or the same images at short side 136 px (docs/usage.md: how to build them).
# Rows in priority order: the light MPSCD against the baselines, then the previous
# default (10x the light structure weights) and 10x that (docs/experiments.md, section 4),
# then the previous default warmed up and decayed, and the authors' PCSD (section 5).
RECIPE = ["img_size=128", "batch_size=64", "teacher_train=dict(epochs=30, lr=1e-3)",
          "student_train=dict(epochs=30, lr=1e-3)"]
RECIPE_ROWS = ("mpscd_light", "mld", "l2d", "vanilla")
STUDY_ROWS = ("mpscd_centred_mld_cap1", "mpscd_centred_mld_x10_cap1", "mpscd_centred_mld_cap1_warmup",
              "mpscd_centred_mld_cap1_decay", "mpscd_authors_pcsd")
rows = ([dict(label=name, config=f"../../voc_sample/resnet34_to_mobilenetv2_{name}.py", opts=RECIPE)
         for name in RECIPE_ROWS]
        + [dict(label=name, config=f"../resnet34_to_mobilenetv2_{name}.py", opts=RECIPE) for name in STUDY_ROWS])
