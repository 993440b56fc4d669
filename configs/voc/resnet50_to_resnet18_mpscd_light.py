# MPSCD's light setting, chosen on from-scratch 64-128 px students (docs/experiments.md),
# a different regime from this one (ImageNet weights, 224 px): a row of the sweep
# (configs/tables/voc_paper_sweep.py), not the method as published.
_base_ = "resnet50_to_resnet18_mpscd.py"
distiller = dict(type="mpscd", lambda_pcrd=0.01, lambda_s2s=0.01, lambda_s2p=0.1, lambda_mld=1.0,
                 s2s_relations="class_residual", s2p_relations="images", structure_grad_cap=1.0,
                 prototype_init="teacher_pass")
