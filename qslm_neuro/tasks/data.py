"""Dataset loaders: GLUE SST-2 and WikiText-2 (raw), from a directory or Hugging Face ``datasets``.

The project never ships third-party text. The loaders read the usual public files from a directory
given as an argument or through the environment variable ``QSLM_DATA_DIR``::

    <dir>/sst2/train.tsv                 GLUE SST-2, tab-separated, header ``sentence<TAB>label``
    <dir>/sst2/dev.tsv
    <dir>/wikitext-2-raw/wiki.train.raw  WikiText-2 raw v1 (the train file is optional)
    <dir>/wikitext-2-raw/wiki.valid.raw
    <dir>/wikitext-2-raw/wiki.test.raw

The files may also sit directly inside ``<dir>``. When no directory is configured and the
``datasets`` package is installed, the same splits are taken from the Hugging Face hub (or its
cache when ``HF_DATASETS_OFFLINE=1``/``HF_HUB_OFFLINE=1``). Otherwise a :class:`DataNotFoundError`
says which files to put where.

WikiText-2's train file could not be obtained on every machine. :func:`wikitext2_lm_splits` then
trains on ``wiki.valid.raw`` (minus a held-out tail for early stopping) and evaluates on
``wiki.test.raw``; its ``note`` says so and every report must carry it.
"""
from __future__ import annotations

import csv
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from qslm_neuro.errors import BadInputError, DataNotFoundError

DATA_DIR_ENV = "QSLM_DATA_DIR"
SST2_SUBDIR = "sst2"
WIKITEXT2_SUBDIR = "wikitext-2-raw"
SST2_FILES = {"train": "train.tsv", "dev": "dev.tsv"}
WIKITEXT2_FILES = {"train": "wiki.train.raw", "valid": "wiki.valid.raw", "test": "wiki.test.raw"}

# Hugging Face names of the same splits (used only when no directory is configured).
_HF_SST2 = ("nyu-mll/glue", "sst2", {"train": "train", "dev": "validation"})
_HF_WIKITEXT2 = ("Salesforce/wikitext", "wikitext-2-raw-v1",
                 {"train": "train", "valid": "validation", "test": "test"})

FALLBACK_NOTE = ("trained on wiki.valid.raw (WikiText-2 train split unavailable); evaluated on "
                 "wiki.test.raw; not comparable with published WikiText-2 numbers")
STANDARD_NOTE = ("trained on wiki.train.raw, early stopping on wiki.valid.raw, evaluated on "
                 "wiki.test.raw (standard WikiText-2 raw splits)")

_LAYOUT_HELP = (
    "Expected layout (files may also sit directly in <dir>):\n"
    "  <dir>/sst2/train.tsv, <dir>/sst2/dev.tsv  (GLUE SST-2, header 'sentence<TAB>label')\n"
    "  <dir>/wikitext-2-raw/wiki.{train,valid,test}.raw  (WikiText-2 raw v1; train optional)\n"
    f"Pass the directory as data_dir / --data-dir or set {DATA_DIR_ENV}=<dir>; or install the "
    "Hugging Face `datasets` package on a machine with internet access."
)


@dataclass(frozen=True)
class LMSplits:
    """The three texts of a language-modelling run and a note saying where they came from."""

    train: str
    heldout: str
    test: str
    note: str


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the data directory: the argument, else ``$QSLM_DATA_DIR``, else ``None``.

    A directory that is named but does not exist is an error rather than a silent fall-through,
    so a typo never turns into "downloading from the internet".
    """
    source = "argument data_dir"
    if data_dir is None or str(data_dir) == "":
        data_dir = os.environ.get(DATA_DIR_ENV) or None
        source = f"environment variable {DATA_DIR_ENV}"
    if data_dir is None:
        return None
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise DataNotFoundError(
            f"data directory {str(path)!r} (from {source}) does not exist or is not a directory.\n"
            + _LAYOUT_HELP)
    return path


def load_sst2(split: str, data_dir: str | os.PathLike[str] | None = None) -> list[tuple[str, int]]:
    """Load SST-2 ``split`` ("train" or "dev") as a list of (sentence, label 0/1)."""
    if split not in SST2_FILES:
        raise BadInputError(f"SST-2 split {split!r} is unknown; expected one of "
                            f"{sorted(SST2_FILES)} (GLUE's test split has no labels).")
    root = resolve_data_dir(data_dir)
    if root is not None:
        path = _find_file(root, SST2_SUBDIR, SST2_FILES[split])
        if path is None:
            raise _missing("SST-2", split, root, SST2_SUBDIR, SST2_FILES[split])
        return parse_sst2_tsv(path)
    rows = _load_hf(_HF_SST2, split)
    if rows is None:
        raise _missing("SST-2", split, None, SST2_SUBDIR, SST2_FILES[split])
    return [(str(row["sentence"]).strip(), int(row["label"])) for row in rows]


def parse_sst2_tsv(path: str | os.PathLike[str]) -> list[tuple[str, int]]:
    """Parse a GLUE SST-2 TSV file (header with ``sentence`` and ``label`` columns).

    Quoting is off: SST-2 sentences contain bare quote characters that are text, not CSV quotes.
    """
    path = Path(path)
    examples: list[tuple[str, int]] = []
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None:
            raise BadInputError(f"{str(path)!r} is empty; expected a GLUE SST-2 TSV (a header "
                                "line naming 'sentence' and 'label', then one row per sentence)")
        if "sentence" not in header or "label" not in header:
            raise BadInputError(
                f"{str(path)!r} has header {header!r}; expected a GLUE SST-2 TSV whose first "
                "line names the columns 'sentence' and 'label' (tab-separated).")
        sentence_col, label_col = header.index("sentence"), header.index("label")
        for line_no, row in enumerate(reader, start=2):
            if not row or row == [""]:
                continue
            if len(row) <= max(sentence_col, label_col):
                raise BadInputError(f"{path}:{line_no} has {len(row)} fields; expected at least "
                                    f"{max(sentence_col, label_col) + 1} (tab-separated).")
            label_text = row[label_col].strip()
            if label_text not in ("0", "1"):
                raise BadInputError(f"{path}:{line_no} has label {label_text!r}; expected 0 or 1.")
            examples.append((row[sentence_col].strip(), int(label_text)))
    if not examples:
        raise BadInputError(f"{str(path)!r} contains no examples; expected GLUE SST-2 rows.")
    return examples


def load_wikitext2(split: str, data_dir: str | os.PathLike[str] | None = None) -> str:
    """WikiText-2 raw ``split`` ("train", "valid" or "test") as one string, lines as in the file."""
    if split not in WIKITEXT2_FILES:
        raise BadInputError(f"WikiText-2 split {split!r} is unknown; expected one of "
                            f"{sorted(WIKITEXT2_FILES)}.")
    root = resolve_data_dir(data_dir)
    if root is not None:
        path = _find_file(root, WIKITEXT2_SUBDIR, WIKITEXT2_FILES[split])
        if path is None:
            raise _missing("WikiText-2", split, root, WIKITEXT2_SUBDIR, WIKITEXT2_FILES[split])
        return path.read_text(encoding="utf-8")
    rows = _load_hf(_HF_WIKITEXT2, split)
    if rows is None:
        raise _missing("WikiText-2", split, None, WIKITEXT2_SUBDIR, WIKITEXT2_FILES[split])
    # The hub stores one row per line; put the line ends back so the text matches the raw file.
    lines = (str(row["text"]) for row in rows)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def wikitext2_lm_splits(data_dir: str | os.PathLike[str] | None = None,
                        heldout_fraction: float = 0.05) -> LMSplits:
    """Train / held-out / test texts for language modelling, with a note on their provenance.

    With ``wiki.train.raw``: train=train, heldout=valid, test=test. Without it: the first
    ``1 - heldout_fraction`` of ``wiki.valid.raw``'s lines train, the rest is held out for early
    stopping, and test stays ``wiki.test.raw``; the note then says the numbers are not comparable
    with published ones.
    """
    if not 0.0 < heldout_fraction < 1.0:
        raise BadInputError(f"heldout_fraction={heldout_fraction!r}; expected a number strictly "
                            "between 0 and 1 (for example 0.05).")
    test = load_wikitext2("test", data_dir)
    valid = load_wikitext2("valid", data_dir)
    try:
        return LMSplits(train=load_wikitext2("train", data_dir), heldout=valid, test=test,
                        note=STANDARD_NOTE)
    except DataNotFoundError:
        pass  # the documented fallback below
    train, heldout = split_lines(valid, 1.0 - heldout_fraction)
    return LMSplits(train=train, heldout=heldout, test=test, note=FALLBACK_NOTE)


def split_lines(text: str, head_fraction: float) -> tuple[str, str]:
    """Split ``text`` at a line boundary: the first ``head_fraction`` of lines, then the rest."""
    lines = text.splitlines(keepends=True)
    if len(lines) < 2:
        raise BadInputError(f"cannot split a text of {len(lines)} line(s) into train and held-out "
                            "parts; expected at least 2 lines.")
    cut = min(max(int(len(lines) * head_fraction), 1), len(lines) - 1)
    return "".join(lines[:cut]), "".join(lines[cut:])


def _find_file(root: Path, subdir: str, filename: str) -> Path | None:
    for candidate in (root / subdir / filename, root / filename):
        if candidate.is_file():
            return candidate
    return None


def _missing(dataset: str, split: str, root: Path | None, subdir: str,
             filename: str) -> DataNotFoundError:
    if root is None:
        where = (f"no data directory is configured ({DATA_DIR_ENV} is unset) and the Hugging Face "
                 "`datasets` package is not installed or could not load it")
    else:
        where = f"looked for {root / subdir / filename} and {root / filename}"
    return DataNotFoundError(f"{dataset} split {split!r} ({filename}) not found: {where}.\n"
                             + _LAYOUT_HELP)


def _hf_offline() -> bool:
    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
               for name in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"))


def _load_hf(spec: tuple[str, str, dict[str, str]], split: str) -> list[dict] | None:
    """Rows of one split from Hugging Face ``datasets``, or ``None`` when that is not possible.

    In offline mode only the local cache is consulted (``datasets`` honours the env vars); any
    failure (no package, no network, no cache) becomes ``None`` so the caller can explain what
    files to provide instead.
    """
    if importlib.util.find_spec("datasets") is None:
        return None
    name, config, split_names = spec
    if _hf_offline():
        # datasets reads this at import time; with it set, only the local cache is consulted.
        os.environ["HF_DATASETS_OFFLINE"] = "1"
    try:
        import datasets  # type: ignore[import-not-found]

        dataset = datasets.load_dataset(name, config, split=split_names[split])
        return [dict(row) for row in dataset]
    except Exception:  # noqa: BLE001 - any hub/cache failure means "not available here"
        return None
