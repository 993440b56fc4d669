"""The method registry: a config's `distiller=dict(type=NAME, **options)` names a class
registered here with @register(NAME); its options are the constructor's parameters after
the networks, annotated with their checks (mpscd.engine.checks), which run before any work."""
import inspect

from mpscd.engine.checks import Invalid, checked_entry
from utils import UserError

DISTILLERS = {}


def register(name):
    """Class decorator: makes the distiller available to configs as type=name. Every option
    must be annotated with its check (mpscd.engine.checks)."""
    def add(cls):
        unchecked = [k for k, p in options(cls).items() if not callable(p.annotation) or p.annotation is p.empty]
        if unchecked:
            raise TypeError(f"{cls.__name__}: annotate options {unchecked} with their checks")
        DISTILLERS[name] = cls
        return cls
    return add


def options(cls):
    """{name: inspect.Parameter} of the options a distiller takes: its constructor's
    parameters after the networks."""
    params = inspect.signature(cls.__init__).parameters
    return {name: p for name, p in params.items() if name not in ("self", "student", "teacher")}


def checked_spec(spec):
    """A config's distiller dict, {type: name, **options}, with each option checked against
    its annotation; raises Invalid naming the option."""
    known = ", ".join(sorted(DISTILLERS))
    if not isinstance(spec, dict) or "type" not in spec:
        raise Invalid(f"must be dict(type=NAME, **options), NAME one of {known}; got {spec!r}")
    if spec["type"] not in DISTILLERS:
        raise Invalid(f"unknown distiller {spec['type']!r}; known: {known}", "type")
    allowed = options(DISTILLERS[spec["type"]])
    unknown = sorted(set(spec) - set(allowed) - {"type"})
    if unknown:
        raise Invalid(f"unknown option(s) {unknown} for distiller {spec['type']!r}; known: {', '.join(allowed)}")
    return {"type": spec["type"], **{k: checked_entry(k, allowed[k].annotation, v)
                                     for k, v in spec.items() if k != "type"}}


def _checked(spec):
    """checked_spec(spec), its refusal as the one-line UserError a user sees."""
    try:
        return checked_spec(spec)
    except Invalid as e:
        raise UserError(f"{e.where('distiller')}: {e.message}") from None


def distiller_class(spec):
    """The distiller class a config's distiller dict names, after checking its options."""
    return DISTILLERS[_checked(spec)["type"]]


def distiller_settings(spec):
    """The spec with every option the distiller takes, defaults filled in: what a run used,
    even after a default changes."""
    defaults = {k: p.default for k, p in options(distiller_class(spec)).items()}
    return {"type": spec["type"], **defaults, **spec}


def build_distiller(spec, student, teacher=None):
    """spec: the config's distiller dict, {type: name, **options}."""
    kwargs = _checked(spec)
    cls = DISTILLERS[kwargs.pop("type")]
    return cls(student, teacher, **kwargs) if cls.needs_teacher else cls(student, **kwargs)
