# The pre-registered bench study (docs/experiments.md, section 8), from scratch. Its numbers
# are those of commit 2dbfa6f's recipe; from commit 91de4a9 on, the rows run section 9's
# (1,000 training scans, ffn_dim 512):
#   python -m mpscd.table configs/study/tables/bench.py --jobs 2
# One resnet20 teacher, resnet8 students, seeds 0-9; every row on the demo recipe
# (configs/_base_/demo.py). bench_pretrained.py: the same rows from pretrained weights.
METHODS = ("vanilla", "mld", "kd", "l2d", "mpscd", "mpscd_light")
rows = [dict(label=m, config=f"../../demo/resnet20_to_resnet8_{m}.py") for m in METHODS]
rows += [dict(label="mpscd_s2p_mld", config="../resnet20_to_resnet8_mpscd_s2p_mld.py")]
seeds = list(range(10))
