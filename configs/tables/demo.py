# The demo table, the bench's rows on the quick start's recipe (configs/_base_/demo.py):
#   python -m mpscd.table configs/tables/demo.py --jobs 2
# One resnet20 teacher, then each method's resnet8 student with seeds 0-4: about half an
# hour on 2 CPU cores. RKD and PKT have demo configs too (resnet20_to_resnet8_{rkd,pkt}.py).
METHODS = ("vanilla", "mld", "kd", "l2d", "mpscd", "mpscd_light")
rows = [dict(label=method, config=f"../demo/resnet20_to_resnet8_{method}.py") for method in METHODS]
seeds = [0, 1, 2, 3, 4]
