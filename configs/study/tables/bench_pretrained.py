# The pre-registered bench study (docs/experiments.md, section 8), from pretrained weights
# (pretrained=True: mpscd.pretrain's, made on first use) with 2,000 training images. Its
# numbers are those of commit 2dbfa6f; later commits run the current split of the
# handwriting (section 9), whose pretraining never sees the development handwriting, and
# ffn_dim 512:
#   python -m mpscd.table configs/study/tables/bench_pretrained.py --jobs 2
METHODS = ("vanilla", "mld", "kd", "l2d", "mpscd", "mpscd_light")
SECTION_8 = ["demo=dict(train_size=2000)", "channels_last='never'"]
rows = [dict(label=m, config=f"../../demo/resnet20_to_resnet8_{m}.py", opts=SECTION_8) for m in METHODS]
rows += [dict(label="mpscd_s2p_mld", config="../resnet20_to_resnet8_mpscd_s2p_mld.py", opts=SECTION_8)]
seeds = list(range(10))
