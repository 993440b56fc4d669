# The authors' code's PCSD (docs/method.md): the student's own
# multi-label supervised contrast (tau 0.2) as S2S and each class's prototype contrast
# matched to the teacher's by squared difference (tau 0.07) as S2P, at the authors'
# weights 100 and 1000 (their module's defaults, on a BCE summed over the batch; ours is
# averaged over images, so they are divided by the batch size, 32, as for L2D's official
# weights). PCRD, MLD and the cap as in the previous default.
_base_ = "resnet34_to_mobilenetv2_mpscd_centred_mld_cap1.py"
distiller = dict(type="mpscd", s2s_relations="supcon", s2p_relations="contrast_mse",
                 lambda_s2s=100 / 32, lambda_s2p=1000 / 32)
