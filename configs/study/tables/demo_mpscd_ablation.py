# Which MPSCD term costs the demo student (docs/experiments.md, section 4), run on a GPU:
#   python -m mpscd.table configs/study/tables/demo_mpscd_ablation.py --jobs 12 [--seeds 0 1 2 3 4]
# The previous default's weights spelled out, each structure term off in turn, against the
# light setting (0.1x those weights), MLD and vanilla.
PREVIOUS = dict(lambda_pcrd=0.1, lambda_s2s=0.1, lambda_s2p=1.0)
VARIANTS = {"mpscd_previous": {}, "mpscd_previous_no_pcrd": dict(lambda_pcrd=0.0),
            "mpscd_previous_no_s2s": dict(lambda_s2s=0.0), "mpscd_previous_no_s2p": dict(lambda_s2p=0.0),
            "mpscd_previous_warmup": dict(structure_schedule=((0.0, 0.0), (0.2, 1.0))),
            "mpscd_previous_decay": dict(structure_schedule=((0.0, 1.0), (1.0, 0.0))),
            "mpscd_authors_pcsd": dict(s2s_relations="supcon", s2p_relations="contrast_mse",
                                       lambda_s2s=100 / 64, lambda_s2p=1000 / 64)}
LIGHT = "../../demo/resnet34_to_resnet18_mpscd_light.py"
rows = [dict(label=method, config=f"../../demo/resnet34_to_resnet18_{method}.py")
        for method in ("mpscd_light", "mld", "vanilla")]
rows += [dict(label=label, config=LIGHT,
              opts=["distiller=dict(type='mpscd', " + ", ".join(f"{k}={v!r}" for k, v in {**PREVIOUS, **change}.items()) + ")"])
         for label, change in VARIANTS.items()]
