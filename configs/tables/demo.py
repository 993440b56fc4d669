# The demo table: python -m mpscd.table configs/tables/demo.py --jobs 2
# One resnet34 teacher (20 epochs), then each method's resnet18 student with seeds 0, 1, 2.
rows = [dict(label=method, config=f"../demo/resnet34_to_resnet18_{method}.py")
        for method in ("vanilla", "mpscd", "mpscd_light", "mld", "kd", "l2d", "rkd", "pkt")]
