# The demo table, the bench's rows on the quick start's recipe (configs/_base_/demo.py):
#   python -m mpscd.table configs/tables/demo.py --jobs 2
# One resnet20 teacher, then each method's resnet8 student with seeds 0-4.
METHODS = ("vanilla", "mpscd", "mpscd_light", "mld", "kd", "l2d", "rkd", "pkt")
rows = [dict(label=method, config=f"../demo/resnet20_to_resnet8_{method}.py") for method in METHODS]
seeds = [0, 1, 2, 3, 4]
