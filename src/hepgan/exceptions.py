"""One exception class per failure a user can cause.

Every class derives from :class:`HepganError`; the command line prints its
message as one line and exits with code 2 (``--debug`` shows the traceback).
"""

from __future__ import annotations


class HepganError(Exception):
    """Base class of all errors a user can cause."""

    exit_code = 2


class ConfigError(HepganError):
    """A configuration has an unknown key, a wrong type or a value out of range."""


class InputFileError(HepganError):
    """An input file is missing, empty, truncated or not of the expected format."""


class SchemaError(HepganError):
    """A table lacks a column, has a wrong dtype, NaN/inf values or no rows."""


class SampleError(SchemaError, ValueError):
    """A sample cannot be evaluated: no events, NaN or inf values, or a total weight that is not positive.

    Also a ValueError, so that library code catching ValueError keeps working.
    """


class ModelFileError(HepganError):
    """A model file is missing, of another format version, or tampered with."""


class MissingExtraError(HepganError):
    """An optional dependency is not installed."""

    def __init__(self, package: str, extra: str):
        super().__init__(
            f"the package '{package}' is needed here; install it with: pip install 'hepgan[{extra}]'"
        )
