"""Every dotted name ``qslm_neuro.x.y`` written in the code, docstrings, messages and docs exists.

Modules move; a docstring or an error message that names the old place sends a reader (or a
user following an error's advice) nowhere. The names are resolved statically, from the source
files: a module or package path, then a name the module defines, imports or exports lazily
(``_EXPORTS``), then, for a class, an attribute its body defines.
"""
from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "qslm_neuro"
#: Where the names are looked for: the package, its scripts and its documents.
SOURCES = [*PACKAGE.rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py"),
           *(ROOT / "tools").rglob("*.py"), *(ROOT / "examples").glob("*.py"),
           *(ROOT / "docs").glob("*.md"), ROOT / "README.md", ROOT / "DEVELOPERS.md",
           ROOT / "hw_models" / "README.md", ROOT / "data" / "MODELS.md"]
DOTTED = re.compile(r"(?<![\w/.-])qslm_neuro(?:\.[A-Za-z_]\w*)+")


def _module_file(parts: list[str]) -> Path | None:
    base = ROOT.joinpath(*parts)
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


@lru_cache(maxsize=None)
def _names(path: Path) -> dict[str, tuple[str, ast.AST | None]]:
    """Top-level names of a module: name -> (kind, node); kind is ``def``, ``class``, ``value``
    or ``from:<module>`` (imported or lazily exported from that module)."""
    tree = ast.parse(path.read_text(), str(path))
    names: dict[str, tuple[str, ast.AST | None]] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = ("def", node)
        elif isinstance(node, ast.ClassDef):
            names[node.name] = ("class", node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        names[name.id] = ("value", None)
                if isinstance(target, ast.Name) and target.id == "_EXPORTS" and isinstance(
                        node.value, ast.Dict):
                    for key, value in zip(node.value.keys, node.value.values):
                        names[key.value] = (f"from:{value.value}", None)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = (f"from:{node.module}", None)
        elif isinstance(node, (ast.If, ast.Try)):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and inner.module and not inner.level:
                    for alias in inner.names:
                        names.setdefault(alias.asname or alias.name, (f"from:{inner.module}",
                                                                      None))
    return names


def _class_attrs(node: ast.ClassDef) -> set[str]:
    attrs: set[str] = set()
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            attrs.add(item.name)
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            attrs.add(item.target.id)
        elif isinstance(item, ast.Assign):
            attrs |= {t.id for t in item.targets if isinstance(t, ast.Name)}
    for inner in ast.walk(node):  # attributes set on the instance: self.name = ...
        if isinstance(inner, ast.Attribute) and isinstance(inner.ctx, ast.Store) and isinstance(
                inner.value, ast.Name) and inner.value.id == "self":
            attrs.add(inner.attr)
    return attrs | {"__init__", "__call__"}


def resolves(dotted: str, depth: int = 0) -> bool:
    """Whether ``dotted`` names a module, or a name (and class attribute) defined in one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        path = _module_file(parts[:cut])
        if path is not None:
            break
    else:
        return False
    rest = parts[cut:]
    if not rest or rest[0].startswith("__"):  # the module itself, or a module attribute
        return True
    if path.name == "__init__.py" and _module_file(parts[:cut] + rest[:1]) is not None:
        return resolves(".".join(parts[:cut] + rest), depth)
    kind, node = _names(path).get(rest[0], (None, None))
    if kind is None:
        return False
    if kind.startswith("from:"):
        source = kind[5:]
        if not source.startswith("qslm_neuro") or depth > 5:
            return True  # a third-party name re-exported: not ours to check
        return resolves(".".join([source, *rest]), depth + 1)
    if len(rest) == 1 or kind in ("def", "value"):
        return True
    return rest[1] in _class_attrs(node)


def test_the_resolver_tells_real_names_from_stale_ones():
    for good in ("qslm_neuro.hw", "qslm_neuro.hw.estimate", "qslm_neuro.estimate",
                 "qslm_neuro.tasks.tokenizer.Tokenizer.train", "qslm_neuro.workload.Workload",
                 "qslm_neuro.workload.Workload.with_precisions", "qslm_neuro.quant.zero_fractions",
                 "qslm_neuro.quantsearch.evaluator.Evaluator.fingerprints"):
        assert resolves(good), good
    for stale in ("qslm_neuro.tokenizer", "qslm_neuro.report", "qslm_neuro.api",
                  "qslm_neuro.models.save_checkpoint", "qslm_neuro.workload.Workload.nothing"):
        assert not resolves(stale), stale


def test_every_qslm_neuro_name_in_code_and_docs_exists():
    stale = []
    for path in SOURCES:
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for dotted in DOTTED.findall(line):
                if not resolves(dotted):
                    stale.append(f"{path.relative_to(ROOT)}:{number}: {dotted}")
    assert not stale, "names that do not exist (moved or renamed?):\n" + "\n".join(stale)


#: ``qslm <command>`` and the rest of its command line (up to a backtick, table bar, bracket, ;).
COMMAND_LINE = re.compile(r"qslm ([a-z][a-z-]*)([^`\n|);]*)")


def test_every_qslm_flag_named_in_messages_and_docs_exists():
    """``qslm estimate --out`` in an error message, when the flag is ``--save-workload``, sends
    the user to an error; each ``qslm <command> ... --flag`` written down must parse."""
    from qslm_neuro.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    flags = {name: {o for a in p._actions for o in a.option_strings}
             for name, p in sub.choices.items()}
    unknown = []
    for path in SOURCES:
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for command, rest in COMMAND_LINE.findall(line):
                for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]*", rest):
                    if command in flags and flag not in flags[command]:
                        unknown.append(f"{path.relative_to(ROOT)}:{number}: qslm {command} "
                                       f"{flag}")
    assert not unknown, "flags that do not exist:\n" + "\n".join(unknown)
