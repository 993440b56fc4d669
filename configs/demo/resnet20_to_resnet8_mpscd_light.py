# MPSCD's light setting (see configs/voc_sample/resnet34_to_mobilenetv2_mpscd_light.py):
# what the from-scratch evidence supports; resnet20_to_resnet8_mpscd.py is full strength.
_base_ = "resnet20_to_resnet8_mpscd.py"
distiller = dict(type="mpscd", lambda_pcrd=0.01, lambda_s2s=0.01, lambda_s2p=0.1, lambda_mld=1.0,
                 s2s_relations="class_residual", s2p_relations="images", structure_grad_cap=1.0,
                 prototype_init="teacher_pass")
