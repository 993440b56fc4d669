# Regime 3 of the pre-registered bench study (docs/experiments.md, section 8): the VOC 2007
# sample at 64 px (configs/_base_/voc_sample.py), vanilla, MLD, KD and the two MPSCD rows
# with the best mean over both bench regimes (S2P alone on top of MLD, the light setting),
# seeds 0-4. Its runs use a checkout of commit 2dbfa6f, the pre-registration's, which
# lacks this file: give mpscd.table a copy of it from outside that checkout, with its
# config paths made absolute, then run seed by seed (--seeds 0, then --seeds 0 1, ...), so
# that a stop leaves whole seeds:
#   python -m mpscd.table COPY --data_root DATA --jobs 2 --seeds 0
rows = [dict(label=m, config=f"../../voc_sample/resnet34_to_mobilenetv2_{m}.py")
        for m in ("vanilla", "mld", "kd", "mpscd_light")]
rows += [dict(label="mpscd_s2p_mld", config="../resnet34_to_mobilenetv2_mpscd_s2p_mld.py")]
seeds = [0, 1, 2, 3, 4]
