#!/usr/bin/env bash
# The VOC-sample table of README.md: one resnet34 teacher, then every method's mobilenet_v2
# student with seeds 0, 1, 2 (finished runs are skipped), then the table. From the repository root:
#   [METHODS="vanilla mld"] bash configs/voc_sample/run_table.sh DATA_ROOT [work_dirs/voc_sample]
set -euo pipefail
DATA=${1:?usage: run_table.sh DATA_ROOT [WORK_DIR]}
OUT=${2:-work_dirs/voc_sample}
PY=${PYTHON:-python}
METHODS=${METHODS:-"vanilla mpscd mld l2d kd rkd pkt mpscd_lambda1 mpscd_mld"}
TEACHER=$OUT/teacher/student_last.pth
[ -f "$OUT/teacher/results.json" ] || $PY main.py --cfg_file configs/voc_sample/resnet34_teacher.py \
    --data_root "$DATA" --work_dir "$OUT/teacher"
for seed in 0 1 2; do
  for method in $METHODS; do
    dir=$OUT/$method/seed$seed
    [ -f "$dir/results.json" ] || $PY main.py --cfg_file configs/voc_sample/resnet34_to_mobilenetv2_$method.py \
        --data_root "$DATA" --work_dir "$dir" --seed $seed --opts "teacher_checkpoint='$TEACHER'"
  done
done
$PY -m mpscd.report $(for method in $METHODS; do echo "$OUT/$method"; done)
