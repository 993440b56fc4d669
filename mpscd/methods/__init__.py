"""Distillation methods, one module per family, each class registered by name
(mpscd.methods.registry): a new method is one module here, imported below, plus a config.

    base     vanilla: the student with BCE alone (also the teacher stage)
    logit    kd, mld: logit distillation
    l2d      l2d: MLD + L2D's label-wise embedding structure terms
    feature  rkd, pkt: relations of the pooled features
    mpscd    mpscd: PCRD + PCSD with corrected prototype banks (docs/method.md)
"""
from mpscd.methods import base, feature, l2d, logit, mpscd  # noqa: F401  (registers the methods)
from mpscd.methods.registry import DISTILLERS, build_distiller, distiller_class, distiller_settings  # noqa: F401
