"""Helpers shared by the engine, the models and the datasets (no imports of mpscd)."""


class UserError(Exception):
    """A mistake the user can fix (bad path, bad config, bad file): main.py prints
    the message alone, without a traceback."""
