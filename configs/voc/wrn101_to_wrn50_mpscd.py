_base_ = "../_base_/voc.py"
teacher = "wrn101"
student = "wrn50"
# MPSCD at full strength, every option written out (docs/method.md, "The seed configs"):
# the abstract's relations (sample-to-sample over all objects of other images,
# sample-to-prototype over the classes), each term at weight 1 beside BCE, L2D's logit
# term as the authors' code adds it, no gradient cap (the cap is this project's), both
# prototype banks from a pass of their network over the training set, corrected every batch.
# The light setting of the from-scratch CPU study is *_mpscd_light.py.
distiller = dict(type="mpscd", lambda_pcrd=1.0, lambda_s2s=1.0, lambda_s2p=1.0, lambda_mld=1.0,
                 logit_temperature=1.0, tau_r=0.1, tau_s=0.1, proj_dim=128, pcrd_positives="instance",
                 s2s_relations="all", s2p_relations="prototypes", s2p_negatives=False,
                 prototype_momentum=0.9, prototype_init="network_pass", structure_grad_cap=0.0,
                 structure_schedule=(), gather_across_ranks=False)
