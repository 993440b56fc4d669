# The 64 px digits table (configs/_base_/demo_64px.py): a resnet34 teacher (20 epochs, about
# 45 minutes on a 2-core AVX2 CPU), then each method's resnet18 student (6 epochs, about 11
# minutes) with seeds 0, 1, 2.
#   python -m mpscd.table configs/tables/demo_64px.py --jobs 2
METHODS = ("vanilla", "mpscd", "mpscd_light", "mld", "kd", "l2d", "rkd", "pkt")
rows = [dict(label=method, config=f"../demo/resnet34_to_resnet18_{method}.py") for method in METHODS]
