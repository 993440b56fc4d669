# MPSCD with relations that a teacher's shared embedding direction cannot flatten
# (docs/method.md, docs/experiments.md): S2S within a class on prototype-centred
# embeddings, S2P per class over the batch's images on centred similarities, PCRD as
# before, plus MLD (the authors' code adds a logit term too); no gradient cap (the
# previous default, ..._mpscd_centred_mld_cap1.py, adds the cap at 1).
_base_ = "../_base_/voc_sample.py"
teacher = "resnet34"
student = "mobilenet_v2"
distiller = dict(type="mpscd", lambda_mld=1.0, lambda_pcrd=0.1, lambda_s2s=0.1, lambda_s2p=1.0,
                 s2s_relations="class_residual", s2p_relations="images", structure_grad_cap=0.0,
                 prototype_init="teacher_pass")
