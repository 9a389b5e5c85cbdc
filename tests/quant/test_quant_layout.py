"""quant/ is split one job per module: the hierarchy imports no plan module, the package exports
every public name, and ``Hierarchy.tree(plan)`` still shows the plan's footprint."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

from torch import nn

import qslm_neuro.quant as quant
from qslm_neuro.quant import Hierarchy, QuantPlan, footprint, format_bytes

QUANT_DIR = Path(quant.__file__).resolve().parent
PLAN_MODULES = {"precision", "quantizer", "plan", "apply", "footprints"}
#: Public in their module but reached another way: QuantPlan.applied / .quantized_copy call the
#: two functions of apply.py; PlanLike only types Hierarchy.tree's argument.
NOT_EXPORTED = {"applied", "quantized_copy", "PlanLike"}


def _imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` or ``from ... import`` names anywhere in the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_hierarchy_imports_no_plan_module_even_for_typing() -> None:
    imported = _imported_modules(QUANT_DIR / "hierarchy.py")
    bad = {m for m in imported
           if m.startswith("qslm_neuro.quant.") and m.split(".")[2] in PLAN_MODULES}
    assert not bad, f"hierarchy.py imports {sorted(bad)}"


def test_every_public_name_of_the_submodules_is_exported_by_the_package() -> None:
    for name in PLAN_MODULES | {"hierarchy"}:
        module = importlib.import_module(f"qslm_neuro.quant.{name}")
        for attr, value in vars(module).items():
            defined_here = getattr(value, "__module__", None) == module.__name__
            if attr.startswith("_") or not defined_here or isinstance(value, type(module)):
                continue
            if attr in NOT_EXPORTED:
                continue
            assert attr in quant.__all__, f"qslm_neuro.quant.{name}.{attr} is not exported"
    assert all(hasattr(quant, n) for n in quant.__all__)


def test_footprint_stays_the_function_after_its_module_is_imported() -> None:
    # the module is footprints.py so that the function's name never collides with a submodule
    importlib.import_module("qslm_neuro.quant.footprints")
    assert callable(quant.footprint) and quant.footprint is footprint



def test_tree_with_a_plan_shows_its_footprint() -> None:
    model = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 4))
    plan = QuantPlan({"0": "int4", "1": "int3-tensor"})
    fp = footprint(model, plan)
    text = Hierarchy.from_module(model).tree(plan)
    assert f"{format_bytes(fp.total_bytes)} under plan ({fp.reduction:.1%} smaller" in text
    assert "int4 64 B (scales 32 B)" in text  # 64 weights * 4 bits + 8 fp32 scales
    assert "int3-tensor 16 B (scales 4 B)" in text  # 32 weights * 3 bits + 1 fp32 scale
    assert plan.footprint(model) == fp
    assert "under plan" not in Hierarchy.from_module(model).tree()
