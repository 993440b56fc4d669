# MPSCD's weights swept at the paper's recipe (VOC 2007, 224 px, ImageNet weights, 80
# epochs), resnet50 -> resnet18, against the logit baselines and L2D:
#   python -m mpscd.table configs/tables/voc_paper_sweep.py --data_root DATA --gpus 0 [--dry_run]
# Full strength (the seed config), its three structure weights x0.1 and x10 together, and
# the light setting of the from-scratch study. 24 student runs and one teacher (README:
# the time on one GPU).
SEED_CONFIG = "../voc/resnet50_to_resnet18_{}.py"
STRUCTURE = ("lambda_pcrd", "lambda_s2s", "lambda_s2p")  # 1.0 each at full strength
seeds = [0, 1, 2]
rows = [dict(label=name, config=SEED_CONFIG.format(name)) for name in ("vanilla", "mld", "kd", "l2d", "mpscd")]
rows += [dict(label=f"mpscd_x{factor:g}", config=SEED_CONFIG.format("mpscd"),
              opts=["distiller=dict(type='mpscd', " + ", ".join(f"{k}={factor}" for k in STRUCTURE) + ")"])
         for factor in (0.1, 10.0)]
rows += [dict(label="mpscd_light", config=SEED_CONFIG.format("mpscd_light"))]
