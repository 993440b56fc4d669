# S2P alone on top of MLD on the digits bench: the light setting without PCRD and S2S, S2P
# at weight 1 (capped at BCE's gradient), as configs/study/resnet34_to_mobilenetv2_mpscd_s2p_mld.py
# on the VOC sample (docs/experiments.md, section 7).
_base_ = "../demo/resnet20_to_resnet8_mpscd_light.py"
distiller = dict(type="mpscd", lambda_pcrd=0.0, lambda_s2s=0.0, lambda_s2p=1.0)
