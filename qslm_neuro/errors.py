"""One exception family for qslm-neuro.

Every message names the bad value, what was expected and how to fix it, so that a user never has
to read a traceback to know what to change. The CLI maps these to documented exit codes.
"""
from __future__ import annotations


class QSLMError(Exception):
    """Base class of every error raised on purpose by qslm-neuro."""

    exit_code: int = 1


class BadInputError(QSLMError, ValueError):
    """A value given by the user is malformed or out of range (CLI exit code 2)."""

    exit_code = 2


class DataNotFoundError(QSLMError, FileNotFoundError):
    """A dataset or model file is missing; the message says where to put which file (exit 2)."""

    exit_code = 2


class ChecksumError(QSLMError):
    """A checkpoint file differs from its sha256 manifest (changed or truncated) (exit 2)."""

    exit_code = 2


class HardwareModelError(BadInputError):
    """A hardware-model file or override is invalid (missing, unknown, negative, wrong type)."""


class MissingDependencyError(QSLMError, ImportError):
    """An optional dependency (lava-nc, optuna, ...) is needed for this feature (exit 2)."""

    exit_code = 2


class ConstraintsNotMetError(QSLMError):
    """No candidate met constA and constM; the report still lists the nearest ones (exit 3)."""

    exit_code = 3
