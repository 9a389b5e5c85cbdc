"""Build step that puts the shipped files into the package (everything else is in pyproject.toml).

The repository keeps one copy of the chip files (``hw_models/``) and of the small data the
examples read (``data/*.json``: the shipped workload, activity profiles, model cards). A wheel
needs them inside the package, so ``build_py`` copies them to ``qslm_neuro/_shipped/`` in the
build folder; :mod:`qslm_neuro.shipped` finds them there once installed, and in the repository
itself otherwise. An editable install reads the repository, so nothing is copied for it.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
#: repository folder -> the files of it that ship (glob patterns relative to that folder).
SHIPPED = {"hw_models": ("*.toml", "examples/*.toml", "README.md"), "data": ("*.json",)}


class BuildPyWithShipped(build_py):
    """``build_py`` plus a copy of the shipped files into ``qslm_neuro/_shipped/``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # the editable package reads the repository's folders directly
        for folder, patterns in SHIPPED.items():
            target = Path(self.build_lib) / "qslm_neuro" / "_shipped" / folder
            for pattern in patterns:
                for source in sorted((ROOT / folder).glob(pattern)):
                    destination = target / source.relative_to(ROOT / folder)
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, destination)


setup(cmdclass={"build_py": BuildPyWithShipped})
