# The pre-registered bench study (docs/experiments.md, section 8), from scratch with 2,000
# training images. Its numbers are those of commit 2dbfa6f; later commits run the current
# split of the handwriting (section 9) and ffn_dim 512:
#   python -m mpscd.table configs/study/tables/bench.py --jobs 2
# One resnet20 teacher, resnet8 students, seeds 0-9. bench_pretrained.py: the same rows from
# pretrained weights.
SECTION_8 = ["pretrained=False", "demo=dict(train_size=2000)", "channels_last='never'"]
METHODS = ("vanilla", "mld", "kd", "l2d", "mpscd", "mpscd_light")
rows = [dict(label=m, config=f"../../demo/resnet20_to_resnet8_{m}.py", opts=SECTION_8) for m in METHODS]
rows += [dict(label="mpscd_s2p_mld", config="../resnet20_to_resnet8_mpscd_s2p_mld.py", opts=SECTION_8)]
seeds = list(range(10))
