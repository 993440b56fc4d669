# The MPSCD study on the VOC sample (docs/experiments.md), rows in the order they were run:
#   python -m mpscd.table configs/study/tables/voc_sample_mpscd_study.py --data_root DATA --jobs 2 --opts diagnostics=2
# The same teacher as configs/tables/voc_sample.py; each variant is one config file.
RECIPE_ROWS = ("mld", "l2d", "kd", "vanilla", "mpscd_light")
VARIANTS = ("mld", "l2d", "mpscd_centred_mld", "mpscd_centred_mld_x10", "mpscd_centred_mld_x10_cap1",
            "mpscd_centred_mld_cap1", "kd", "mpscd_centred_kd", "mpscd_centred_mld_x01", "vanilla", "mpscd_light",
            "mpscd_centred_mld_cap1_warmup", "mpscd_authors_pcsd", "mpscd_centred_mld_cap1_decay", "mpscd_first",
            "mpscd_s2p_mld")
rows = [dict(label=name, config=(f"../../voc_sample/resnet34_to_mobilenetv2_{name}.py" if name in RECIPE_ROWS
                                 else f"../resnet34_to_mobilenetv2_{name}.py")) for name in VARIANTS]
