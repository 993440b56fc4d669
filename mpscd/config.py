"""Python config files: top-level variables, `_base_` inheritance, a schema of known keys.

A config is a .py file of top-level assignments. `_base_` (a path or a list of paths,
relative to the file) names configs it builds on; dicts merge key by key, unless the
child's dict has another `type` (then it replaces the base's dict whole). Every key must
be in SCHEMA below, which also gives its default and type.
"""
import ast
import os
import pprint
import runpy

from utils import UserError

_STAGE = dict(epochs=80, lr=1e-4, weight_decay=1e-4, pct_start=0.2)

# key: (default, allowed types). A None default means "None or one of the types".
SCHEMA = {
    # data
    "dataset": ("voc", (str,)),             # voc | coco | nuswide | demo
    "data_root": (None, (str,)),            # set by --data_root
    "img_size": (224, (int,)),
    "batch_size": (64, (int,)),             # per process
    "num_workers": (4, (int,)),
    "cache_images": (False, (bool,)),       # decode + resize every image once, keep it in memory
    "difficult": ("positive", (str,)),      # VOC difficult-only labels: positive | ignore
    "drop_unlabeled": (False, (bool,)),     # COCO images without any annotation
    "augment": (dict(flip=True, randaugment=True, cutout=0.5), (dict,)),
    "demo": (dict(train_size=4000, test_size=1000, canvas=64, seed=0), (dict,)),
    # models
    "teacher": ("resnet50", (str,)),
    "student": ("resnet18", (str,)),
    "embed_dim": (768, (int,)),
    "pretrained": (True, (bool,)),          # ImageNet weights for both backbones
    "teacher_weights": (None, (str,)),      # a local ImageNet weights file for the teacher
    "student_weights": (None, (str,)),      # ... and for the student
    "teacher_checkpoint": (None, (str,)),   # None: train the teacher first
    # schedules: Adam + OneCycle (L2D); no weight decay on biases and norms
    "teacher_train": (dict(_STAGE), (dict,)),
    "student_train": (dict(_STAGE), (dict,)),
    "distiller": (dict(type="vanilla"), (dict,)),
    # engine
    "amp": (True, (bool,)),                 # mixed precision on CUDA
    "amp_dtype": ("auto", (str,)),          # auto (bfloat16 where the GPU has it, else float16 + GradScaler) | bfloat16 | float16
    "cpu_bf16": (True, (bool,)),            # bfloat16 autocast on CPUs that run it natively (AVX-512 and newer)
    "channels_last": (True, (bool,)),
    "compile": (False, (bool,)),            # torch.compile the student's and the teacher's backbones
    "sync_bn": (False, (bool,)),            # SyncBatchNorm in the student under torchrun (CUDA only)
    "eval_threshold": (0.5, (float,)),
    "eval_interval": (1, (int,)),           # evaluate every N epochs (and always after the last)
    "print_freq": (20, (int,)),
    "checkpoint_interval": (0, (int,)),     # also save <stage>_last.pth every N iterations
    "diagnostics": (0, (int,)),             # measure gradients per term and embedding health on N batches per epoch
    "seed": (0, (int,)),
    "deterministic": (False, (bool,)),
}

# String keys with a fixed set of values.
CHOICES = {"difficult": ("positive", "ignore"), "amp_dtype": ("auto", "bfloat16", "float16")}


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


def _check_type(key, value, where):
    default, types = SCHEMA[key]
    if value is None and default is None:
        return value
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        expected = " or ".join(t.__name__ for t in types) + (" or None" if default is None else "")
        raise UserError(f"config key {key!r} in {where} must be {expected}, "
                        f"got {type(value).__name__} {value!r}")
    return value


def load_config(path, overrides=()):
    """Resolve a config file and `key=value` overrides against SCHEMA."""
    values, origin = _read_file(path)
    for text in overrides:
        key, value = parse_override(text)
        values = _merge(values, {key: value})
        origin[key] = "--opts"
    cfg = Config()
    for key in values:
        if key not in SCHEMA:
            raise UserError(f"unknown config key {key!r} in {origin[key]}; "
                            f"known keys: {', '.join(SCHEMA)}")
    for key, (default, _) in SCHEMA.items():
        value = values.get(key, default)
        where = origin.get(key, "the defaults")
        if isinstance(default, dict) and isinstance(value, dict) and "type" not in default:
            unknown = set(value) - set(default)
            if unknown:
                raise UserError(f"unknown entries {sorted(unknown)} in config key {key!r} in {where}; "
                                f"known: {', '.join(default)}")
            value = {**default, **value}  # a partial schedule/augment dict keeps its defaults
        cfg[key] = _check_type(key, value, where)
        if key in CHOICES and value not in CHOICES[key]:
            raise UserError(f"config key {key!r} in {where} must be one of {', '.join(map(repr, CHOICES[key]))}, "
                            f"got {value!r}")
    return cfg
