# S2P alone on top of MLD (docs/experiments.md, section 6, "what to try next" (3)): the light
# setting without PCRD and S2S, S2P at the previous default's weight (1, capped at BCE's gradient).
# On the demo, S2P was the only structure term whose removal did not help the previous default.
_base_ = "../voc_sample/resnet34_to_mobilenetv2_mpscd_light.py"
distiller = dict(type="mpscd", lambda_pcrd=0.0, lambda_s2s=0.0, lambda_s2p=1.0)
