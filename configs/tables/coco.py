# The coco rows (224 px, ImageNet-pretrained, 80 epochs), teachers trained once per pair:
#   python -m mpscd.table configs/tables/coco.py --data_root DATA --gpus 0,1,2,3
rows = [dict(label=f"{pair}_{method}", config=f"../coco/{pair}_{method}.py")
        for pair in ("resnet50_to_resnet18", "resnet101_to_resnet34")
        for method in ("vanilla", "mpscd")]
