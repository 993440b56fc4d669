# The paper's VOC 2007 table (224 px, ImageNet-pretrained, 80 epochs):
#   python -m mpscd.table configs/tables/voc_paper.py --data_root DATA --gpus 0,1,2,3
# MPSCD for the four teacher -> student pairs, and for ResNet-50 -> ResNet-18 every
# baseline and every ablation of MPSCD. Each pair's teacher is trained once.
PAIRS = ("resnet50_to_resnet18", "wrn101_to_wrn50", "repvgg_a2_to_repvgg_a0", "swin_t_to_mobilenetv2")
BASELINES = ("vanilla", "mld", "kd", "l2d", "rkd", "pkt")
ABLATIONS = ("pcrd", "pcsd", "s2s", "s2p", "mpscd_nocorrection")
rows = ([dict(label=f"{pair}_mpscd", config=f"../voc/{pair}_mpscd.py") for pair in PAIRS]
        + [dict(label=f"resnet50_to_resnet18_{name}", config=f"../voc/resnet50_to_resnet18_{name}.py")
           for name in BASELINES + ABLATIONS])
