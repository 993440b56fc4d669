# The VOC-sample table (2 CPU cores: --jobs 2; a GPU: --gpus 0):
#   python -m mpscd.table configs/tables/voc_sample.py --data_root DATA --jobs 2
# One resnet34 teacher (12 epochs), then each method's mobilenet_v2 student with seeds 0, 1, 2.
METHODS = ("vanilla", "mpscd", "mpscd_light", "mld", "l2d", "kd", "rkd", "pkt")
rows = [dict(label=method, config=f"../voc_sample/resnet34_to_mobilenetv2_{method}.py") for method in METHODS]
