# The first formulation of MPSCD, read from the paper's abstract (the default until docs/experiments.md):
# relations on raw unit embeddings, no logit term, no gradient cap, weight 0.1 on each term.
_base_ = "../demo/resnet34_to_resnet18_mpscd_light.py"
distiller = dict(type="mpscd", lambda_pcrd=0.1, lambda_s2s=0.1, lambda_s2p=0.1, lambda_mld=0.0,
                 s2s_relations="all", s2p_relations="prototypes", structure_grad_cap=0.0)
