import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
VOC_SAMPLE = os.path.join(ROOT, "..", "shared", "data", "voc2007-sample")

needs_voc_sample = pytest.mark.skipif(
    not os.path.isdir(VOC_SAMPLE), reason="the VOC 2007 sample (../shared/data/voc2007-sample) is not here")


def demo_opts(*extra):
    """--opts for a tiny, fast demo run."""
    return ["demo=dict(train_size=96, test_size=48)", "img_size=32", "batch_size=16", "num_workers=0",
            "embed_dim=32", "print_freq=1", *extra]
