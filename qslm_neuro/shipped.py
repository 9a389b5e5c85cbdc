"""Files that ship with the package: the built-in chip files and the small data of the examples.

The repository keeps one copy of each: the chip files in ``hw_models/`` (``*.toml``,
``examples/``, ``README.md``) and the small data in ``data/*.json`` (the shipped workload, the
fp32 activity profiles and the model cards). Building a wheel copies them into the package as
``qslm_neuro/_shipped/{hw_models,data}`` (``setup.py``'s ``build_py`` step; never tracked), so an
installed package finds them through :mod:`importlib.resources`. A source checkout or an
editable install has no ``_shipped`` folder and reads the repository's folders directly.

The checkpoints themselves (``data/slm-small-*``, megabytes each) are not in the wheel: they are
read from a path (``qslm_neuro.load_model("data/slm-small-sst2")``).

This module sits at the bottom of the package (beside ``errors`` and ``fileio``): it imports no
other part of qslm_neuro but the errors, so the hardware side can use it.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from qslm_neuro.errors import BadInputError

#: The kinds of shipped folder, by their name in the repository.
KINDS = ("hw_models", "data")
#: The package folder a wheel holds the shipped copies in (see ``setup.py``).
PACKAGED = "_shipped"

__all__ = ["KINDS", "shipped_dir", "shipped_file", "shipped_names", "shipped_workload_file",
           "shipped_profile_file", "looks_like_name"]


def shipped_dir(kind: str) -> Path:
    """The folder of shipped files of ``kind`` (``"hw_models"`` or ``"data"``).

    Installed from a wheel: ``qslm_neuro/_shipped/<kind>`` inside the package; from a source
    checkout (or an editable install): the repository's top-level ``<kind>/``.
    """
    if kind not in KINDS:
        raise BadInputError(f"no shipped folder {kind!r}; expected one of {KINDS}")
    packaged = resources.files("qslm_neuro").joinpath(PACKAGED, kind)
    if packaged.is_dir():
        return Path(os.fspath(packaged))  # a wheel installs as plain files, never zipped
    return Path(__file__).resolve().parent.parent / kind


def shipped_file(kind: str, name: str) -> Path:
    """The path of one shipped file; it may not exist (callers say what is missing)."""
    return shipped_dir(kind) / name


def shipped_names(kind: str, prefix: str = "", suffix: str = "") -> list[str]:
    """Names of the shipped files of ``kind`` as ``prefix<name>suffix`` -> ``name``, sorted."""
    directory = shipped_dir(kind)
    if not directory.is_dir():
        return []
    return sorted(p.name[len(prefix):len(p.name) - len(suffix)]
                  for p in directory.glob(f"{prefix}*{suffix}") if p.is_file())


def looks_like_name(text: "str | os.PathLike[str]") -> bool:
    """Whether ``text`` is a bare name (``"slm-small-sst2"``) rather than a file path."""
    text = os.fspath(text)
    return bool(text) and "/" not in text and os.sep not in text and "." not in text


def shipped_workload_file(name: str) -> Path:
    """The shipped workload of model ``name`` (``data/workload-<name>.json``), checked."""
    return _shipped_data_file("workload-", name, "workload")


def shipped_profile_file(name: str) -> Path:
    """The shipped fp32 activity profile of model ``name`` (``data/activity-<name>.json``)."""
    return _shipped_data_file("activity-", name, "activity profile")


def _shipped_data_file(prefix: str, name: str, what: str) -> Path:
    """``data/<prefix><name>.json`` if it ships; else the error lists the names that do."""
    path = shipped_file("data", f"{prefix}{name}.json")
    if not path.is_file():
        raise BadInputError(
            f"no shipped {what} {name!r}; shipped: "
            f"{shipped_names('data', prefix, '.json')} (or pass a {what.split()[-1]} .json path)")
    return path
