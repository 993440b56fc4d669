# The first formulation of MPSCD, read from the paper's abstract, the default until the study of
# docs/experiments.md: relations on raw unit embeddings (S2S between all objects of different
# images, S2P over the prototypes), no logit term, no gradient cap, weight 0.1 on each term.
_base_ = "../voc_sample/resnet34_to_mobilenetv2_mpscd_light.py"
distiller = dict(type="mpscd", lambda_pcrd=0.1, lambda_s2s=0.1, lambda_s2p=0.1, lambda_mld=0.0,
                 s2s_relations="all", s2p_relations="prototypes", structure_grad_cap=0.0)
