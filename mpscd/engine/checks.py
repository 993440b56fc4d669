"""Checks of config values and distiller options, run before any work starts. A check is
called with a value and returns it (an int widened to float where a number is asked) or
raises Invalid saying what is wrong and what is allowed; str(check) says what is allowed.
Distillers annotate their constructor's options with these checks."""
import math


class Invalid(ValueError):
    """A value a check refuses: `message` says what is wrong and what is allowed; `entry`
    the place inside a dict (e.g. "lr" of teacher_train), if any."""

    def __init__(self, message, entry=None):
        super().__init__(message)
        self.message, self.entry = message, entry

    def where(self, key):
        """key.entry"""
        return f"{key}.{self.entry}" if self.entry else key


def _refuse(check, value):
    raise Invalid(f"must be {check}, got {type(value).__name__} {value!r}")


class Number:
    """An int (kind=int) or a finite number (kind=float) within optional bounds: `low`/`high`
    inclusive, `above`/`below` exclusive; `multiple_of` for ints."""

    def __init__(self, kind=float, low=None, high=None, above=None, below=None, multiple_of=None):
        self.kind, self.low, self.high, self.above, self.below = kind, low, high, above, below
        self.multiple_of = multiple_of

    def __str__(self):
        text = "an integer" if self.kind is int else "a number"
        lower = f"[{self.low}" if self.low is not None else f"({self.above}" if self.above is not None else None
        upper = f"{self.high}]" if self.high is not None else f"{self.below})" if self.below is not None else None
        if lower and upper:
            text += f" in {lower}, {upper}"
        elif lower:
            text += (" >= " if lower[0] == "[" else " > ") + lower[1:]
        elif upper:
            text += (" <= " if upper[-1] == "]" else " < ") + upper[:-1]
        return text + (f" divisible by {self.multiple_of}" if self.multiple_of else "")

    def __call__(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float) if self.kind is float else int):
            _refuse(self, value)
        try:
            given, value = value, self.kind(value)
        except OverflowError:  # an int too large for a float
            _refuse(self, value)
        if ((self.kind is float and not math.isfinite(value))
                or (self.low is not None and value < self.low) or (self.high is not None and value > self.high)
                or (self.above is not None and value <= self.above) or (self.below is not None and value >= self.below)
                or (self.multiple_of and value % self.multiple_of)):
            _refuse(self, given)
        return value


class OneOf:
    def __init__(self, *choices):
        self.choices = choices

    def __str__(self):
        return "one of " + ", ".join(map(repr, self.choices))

    def __call__(self, value):
        if not any(type(value) is type(choice) and value == choice for choice in self.choices):  # 1 is not True
            _refuse(self, value)
        return value


class Boolean:
    def __str__(self):
        return "True or False"

    def __call__(self, value):
        if not isinstance(value, bool):
            _refuse(self, value)
        return value


class Text:
    def __str__(self):
        return "a non-empty string"

    def __call__(self, value):
        if not isinstance(value, str) or not value:
            _refuse(self, value)
        return value


class Optional:
    """None, or what `check` allows."""

    def __init__(self, check):
        self.check = check

    def __str__(self):
        return f"None or {self.check}"

    def __call__(self, value):
        return None if value is None else self.check(value)


class Record:
    """A dict with these entries, each with its default and check; a partial dict keeps the
    defaults of the entries it leaves out. Errors name the entry (key.entry)."""

    def __init__(self, **entries):
        self.entries = entries  # name: (default, check)

    def __str__(self):
        return "a dict with entries " + ", ".join(self.entries)

    def defaults(self):
        return {name: default for name, (default, _) in self.entries.items()}

    def __call__(self, value):
        if not isinstance(value, dict):
            _refuse(self, value)
        unknown = sorted(set(value) - set(self.entries))
        if unknown:
            raise Invalid(f"unknown entries {unknown}; known: {', '.join(self.entries)}")
        return {**self.defaults(), **{name: checked_entry(name, self.entries[name][1], item)
                                      for name, item in value.items()}}


def checked_entry(name, check, value):
    """check(value), an error naming the entry."""
    try:
        return check(value)
    except Invalid as e:
        raise Invalid(e.message, e.where(name)) from None


class Schedule:
    """A sequence of (progress, factor) points, progress rising within [0, 1]; () is a
    constant factor of 1. Returned as a tuple of float pairs."""

    def __str__(self):
        return ("a sequence of (progress, factor) points, progress rising within [0, 1], factors finite and "
                ">= 0, e.g. ((0, 0), (0.2, 1))")

    def __call__(self, value):
        try:
            if any(isinstance(v, bool) for point in value for v in point):
                raise TypeError("a bool is not a number here")
            points = tuple((float(x), float(y)) for x, y in value)
        except (TypeError, ValueError):
            _refuse(self, value)
        xs = [x for x, _ in points]
        if (not all(0.0 <= x <= 1.0 for x in xs) or xs != sorted(xs)
                or not all(math.isfinite(y) and y >= 0 for _, y in points)):
            _refuse(self, value)
        return points


# Shared by several options.
NON_NEGATIVE = Number(float, low=0)
POSITIVE = Number(float, above=0)
