# Robustness check of the centred MPSCD: its PCRD, S2S and S2P weights at 0.1 times (MLD unchanged).
_base_ = "resnet34_to_mobilenetv2_mpscd_centred_mld.py"
distiller = dict(type="mpscd", lambda_pcrd=0.01, lambda_s2s=0.01, lambda_s2p=0.1)
