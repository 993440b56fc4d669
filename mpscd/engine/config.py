"""Python config files: top-level variables, `_base_` inheritance, a schema of known keys.

A config is a .py file of top-level assignments. `_base_` (a path or a list of paths,
relative to the file) names configs it builds on; dicts merge key by key, unless the
child's dict has another `type` (then it replaces the base's dict whole). Every key must
be in SCHEMA below, which also gives its default and its check: every value, the entries
of dicts and the distiller's options included, is checked before any work starts.
"""
import ast
import os
import pprint
import runpy

from datasets import DATASETS
from models import BACKBONES
from mpscd.engine.checks import NON_NEGATIVE, POSITIVE, Boolean, Invalid, Number, OneOf, Optional, Record, Text
from mpscd.engine.stopping import PREEMPT_SIGNALS
from mpscd.methods.registry import checked_spec
from utils import UserError

_STAGE = Record(epochs=(80, Number(int, low=1)), lr=(1e-4, POSITIVE), weight_decay=(1e-4, NON_NEGATIVE),
               pct_start=(0.2, Number(float, above=0, below=1)))
_COUNT = Number(int, low=0)
_PATH = Optional(Text())


# key: (default, check). A Record's default is its entries' defaults.
SCHEMA = {
    # data
    "dataset": ("voc", OneOf(*DATASETS)),
    "data_root": (None, _PATH),             # set by --data_root
    "img_size": (224, Number(int, low=8)),
    "batch_size": (64, Number(int, low=1)),  # per process
    "num_workers": (4, _COUNT),
    "cache_images": (False, Boolean()),      # decode + resize every image once, keep it in memory
    "difficult": ("positive", OneOf("positive", "ignore")),  # VOC difficult-only labels
    "drop_unlabeled": (False, Boolean()),    # COCO images without any annotation
    # Where each split is under data_root (docs/usage.md); the defaults are the VOC 2007 and
    # MS-COCO 2014 layouts. voc.classes: "voc2007", "annotations" (sorted names) or a class file.
    "voc": Record(train_folder=("VOCtrainval2007/VOCdevkit/VOC2007", Text()), train_list=("trainval", Text()),
                  test_folder=("VOCtest2007/VOCdevkit/VOC2007", Text()), test_list=("test", Text()),
                  classes=("voc2007", Text())),
    "coco": Record(train_images=("train2014", Text()),
                   train_annotations=("annotations/instances_train2014.json", Text()),
                   test_images=("val2014", Text()), test_annotations=("annotations/instances_val2014.json", Text())),
    # Your own data: train.csv / test.csv with `path,cat|dog` lines ("names") or a 0/1 column per class
    "folder": Record(label_format=("names", OneOf("names", "columns")), label_delimiter=("|", Text())),
    "augment": Record(flip=(True, Boolean()), randaugment=(True, Boolean()),
                      cutout=(0.5, Number(float, low=0, high=1)), shift=(0, Number(int, low=0))),
    "demo": Record(train_size=(4000, Number(int, low=1)), test_size=(1000, Number(int, low=1)),
                   canvas=(64, Number(int, low=24)), grid=(3, Number(int, low=2, high=4)), seed=(0, _COUNT),
                   heldout=("test", OneOf("test", "dev"))),  # "dev": evaluate on the development handwriting
    # models
    "teacher": ("resnet50", OneOf(*BACKBONES)),
    "student": ("resnet18", OneOf(*BACKBONES)),
    "embed_dim": (768, Number(int, low=8, multiple_of=8)),  # the head's 8 attention heads
    "ffn_dim": (2048, Number(int, low=8)),   # the head's feed-forward width (ML-Decoder's 2048)
    "pretrained": (True, Boolean()),         # ImageNet weights for both backbones (32 px ones: mpscd.pretrain's)
    "teacher_weights": (None, _PATH),        # a local ImageNet weights file for the teacher
    "student_weights": (None, _PATH),        # ... and for the student
    "teacher_checkpoint": (None, _PATH),     # None: train the teacher first
    # schedules: Adam + OneCycle (L2D); no weight decay on biases and norms
    "teacher_train": _STAGE,
    "student_train": _STAGE,
    "distiller": (dict(type="vanilla"), checked_spec),
    # engine
    "amp": (True, Boolean()),                # mixed precision on CUDA
    # auto: bfloat16 where the GPU has it, else float16 + GradScaler
    "amp_dtype": ("auto", OneOf("auto", "bfloat16", "float16")),
    "cpu_bf16": (True, Boolean()),           # bfloat16 autocast on CPUs that run it natively (AVX-512 and newer)
    "channels_last": ("auto", OneOf("auto", "always", "never")),  # NHWC layout; "auto": on CUDA and with CPU bf16
    "compile": (False, Boolean()),           # torch.compile the student's and the teacher's backbones
    # the teacher's outputs per training image computed once, not every epoch: only without augmentation
    "cache_teacher_outputs": (False, Boolean()),
    "sync_bn": (False, Boolean()),           # SyncBatchNorm in the student under torchrun (CUDA only)
    "eval_threshold": (0.5, Number(float, low=0, high=1)),
    "eval_interval": (1, _COUNT),  # evaluate every N epochs (and always after the last); 0: after the last only
    "print_freq": (20, Number(int, low=1)),
    "checkpoint_interval": (0, _COUNT),      # also save <stage>_last.pth every N iterations
    "diagnostics": (0, _COUNT),              # measure gradients per term and embedding health on N batches per epoch
    # Slurm's warning before a pre-emption (sbatch --signal=USR1@120): save, then go on or stop
    "preempt_signal": (None, Optional(OneOf(*PREEMPT_SIGNALS))),
    "preempt_action": ("continue", OneOf("continue", "stop")),
    "seed": (0, _COUNT),
    "deterministic": (False, Boolean()),
}
SCHEMA = {k: (v.defaults(), v) if isinstance(v, Record) else v for k, v in SCHEMA.items()}


class Config(dict):
    """A dict whose keys can also be read as attributes."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def dump(self, path):
        with open(path, "w") as f:
            for key, value in self.items():
                f.write(f"{key} = {pprint.pformat(value, sort_dicts=False)}\n")


def _merge(base, child):
    merged = dict(base)
    for key, value in child.items():
        old = merged.get(key)
        if isinstance(old, dict) and isinstance(value, dict) and old.get("type") == value.get("type"):
            merged[key] = _merge(old, value)
        else:
            merged[key] = value
    return merged


def _read_file(path):
    """Top-level variables of one config file, with its bases merged in, and the file
    each key was last set in (for error messages)."""
    if not os.path.isfile(path):
        raise UserError(f"config file {path} does not exist")
    try:
        raw = runpy.run_path(path)
    except Exception as e:
        raise UserError(f"cannot read config {path}: {type(e).__name__}: {e}") from None
    values = {k: v for k, v in raw.items()
              if not k.startswith("__") and not callable(v) and type(v).__name__ != "module"}
    bases = values.pop("_base_", [])
    merged, origin = {}, {}
    for base in [bases] if isinstance(bases, str) else bases:
        base_values, base_origin = _read_file(os.path.join(os.path.dirname(path), base))
        merged = _merge(merged, base_values)
        origin.update(base_origin)
    merged = _merge(merged, values)
    origin.update({k: path for k in values})
    return merged, origin


def parse_override(text):
    """'key=value' with the value a Python literal or dict(...) call, as in config files
    (anything else, e.g. a bare word, stays a string)."""
    if "=" not in text:
        raise UserError(f"--opts expects key=value, got {text!r}")
    key, value = text.split("=", 1)
    try:
        value = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        try:  # dict(a=1) as in config files; no builtins, so nothing else can run
            value = eval(value, {"__builtins__": {}}, {"dict": dict})
        except Exception:
            pass
    return key.strip(), value


def load_config(path, overrides=()):
    """Resolve a config file and `key=value` overrides against SCHEMA: an unknown key or a
    value its check refuses is a UserError naming the key, the file or --opts, what is
    wrong and what is allowed."""
    values, origin = _read_file(path)
    for text in overrides:
        key, value = parse_override(text)
        values = _merge(values, {key: value})
        origin[key] = "--opts"
    for key in values:
        if key not in SCHEMA:
            raise UserError(f"unknown config key {key!r} in {origin[key]}; known keys: {', '.join(SCHEMA)}")
    cfg = Config()
    for key, (default, check) in SCHEMA.items():
        try:
            cfg[key] = check(values.get(key, default))
        except Invalid as e:
            raise UserError(f"{e.where(key)} in {origin.get(key, 'the defaults')}: {e.message}") from None
    if cfg["cache_teacher_outputs"] and any(cfg["augment"].values()):
        raise UserError("cache_teacher_outputs = True needs training images that look the same every epoch: "
                        "augment = dict(flip=False, randaugment=False, cutout=0.0, shift=0)")
    return cfg
