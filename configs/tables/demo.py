# The demo table, the bench's rows on the quick start's recipe (configs/_base_/demo.py:
# pretrained start, 500 training images):
#   python -m mpscd.table configs/tables/demo.py --jobs 2
# One resnet20 teacher, then each method's resnet8 student with seeds 0-4: about 12 minutes
# on 2 CPU cores. The studies of docs/experiments.md, sections 10 and 11, add seeds 5-9
# (--seeds 0 1 2 3 4 5 6 7 8 9). RKD and PKT have demo configs too (resnet20_to_resnet8_{rkd,pkt}.py).
METHODS = ("vanilla", "mld", "kd", "l2d", "mpscd", "mpscd_light")
rows = [dict(label=method, config=f"../demo/resnet20_to_resnet8_{method}.py") for method in METHODS]
rows += [dict(label="mpscd_s2p_mld", config="../study/resnet20_to_resnet8_mpscd_s2p_mld.py")]
seeds = [0, 1, 2, 3, 4]
