"""Dataset loaders: directory layouts, robust TSV parsing, the WikiText-2 fallback split and the
error that tells a user where to put which file."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from qslm_neuro.tasks import data
from qslm_neuro.tasks.data import (FALLBACK_NOTE, STANDARD_NOTE, LMSplits, load_sst2, load_wikitext2,
                             parse_sst2_tsv, resolve_data_dir, wikitext2_lm_splits)
from qslm_neuro.errors import BadInputError, DataNotFoundError

REAL_DATA = os.environ.get("QSLM_DATA_DIR")
needs_real_data = pytest.mark.skipif(
    not REAL_DATA, reason="QSLM_DATA_DIR is unset; set it to the directory holding sst2/ and "
                          "wikitext-2-raw/ (e.g. QSLM_DATA_DIR=../shared/data) to run this test")


@pytest.fixture
def no_env_dir(monkeypatch):
    monkeypatch.delenv("QSLM_DATA_DIR", raising=False)


@pytest.fixture
def no_hub(monkeypatch):
    """Pretend the Hugging Face `datasets` route yields nothing (no package, offline, no cache)."""
    monkeypatch.setattr(data, "_load_hf", lambda spec, split: None)


def write_sst2(root: Path, split: str, rows: list[str], header: str = "sentence\tlabel") -> Path:
    path = root / "sst2" / f"{split}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def write_wikitext(root: Path, files: dict[str, str], subdir: str = "wikitext-2-raw") -> None:
    (root / subdir).mkdir(parents=True, exist_ok=True)
    for split, text in files.items():
        (root / subdir / f"wiki.{split}.raw").write_text(text, encoding="utf-8")


def numbered_lines(prefix: str, n: int) -> str:
    return "".join(f" {prefix} line {i} \n" for i in range(n))


# ------------------------------------------------------------------------------ resolve_data_dir
def test_argument_beats_environment_and_environment_beats_nothing(tmp_path, monkeypatch):
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("QSLM_DATA_DIR", str(other))
    assert resolve_data_dir(tmp_path) == tmp_path
    assert resolve_data_dir() == other
    monkeypatch.delenv("QSLM_DATA_DIR")
    assert resolve_data_dir() is None


def test_missing_directory_is_an_error_naming_it(tmp_path, no_env_dir):
    missing = tmp_path / "nope"
    with pytest.raises(DataNotFoundError, match="nope"):
        resolve_data_dir(missing)


# ------------------------------------------------------------------------------------- SST-2
def test_sst2_tsv_keeps_quotes_as_text_and_strips_padding(tmp_path, no_env_dir):
    write_sst2(tmp_path, "dev", ['he said " wow , '"it 's great\t1", "dull and ' flat \t0",
                                 '"quoted at the start\t1'])
    assert load_sst2("dev", tmp_path) == [('he said " wow , it \'s great', 1),
                                          ("dull and ' flat", 0), ('"quoted at the start', 1)]


def test_sst2_columns_found_by_header_name_and_flat_layout_accepted(tmp_path, no_env_dir):
    (tmp_path / "train.tsv").write_text("label\tsentence\n0\tbad film\n1\tgood film\n")
    assert load_sst2("train", tmp_path) == [("bad film", 0), ("good film", 1)]


def test_sst2_bad_header_and_bad_label_name_the_problem(tmp_path, no_env_dir):
    bad_header = write_sst2(tmp_path, "dev", ["x\t1"], header="text\ty")
    with pytest.raises(BadInputError, match="sentence"):
        parse_sst2_tsv(bad_header)
    bad_label = write_sst2(tmp_path, "dev", ["fine\t1", "odd\tpositive"])
    with pytest.raises(BadInputError, match=r"dev.tsv:3 .*'positive'"):
        parse_sst2_tsv(bad_label)


def test_sst2_unknown_split_is_rejected(tmp_path):
    with pytest.raises(BadInputError, match="'test'"):
        load_sst2("test", tmp_path)


def test_missing_file_error_says_where_to_put_which_file(tmp_path, no_env_dir):
    with pytest.raises(DataNotFoundError) as info:
        load_sst2("dev", tmp_path)
    message = str(info.value)
    assert str(tmp_path / "sst2" / "dev.tsv") in message
    assert "QSLM_DATA_DIR" in message and "wiki.{train,valid,test}.raw" in message


def test_without_directory_or_hub_the_error_mentions_the_env_var(no_env_dir, no_hub):
    with pytest.raises(DataNotFoundError, match="QSLM_DATA_DIR is unset"):
        load_wikitext2("test")


def test_hub_rows_are_used_when_no_directory_is_configured(no_env_dir, monkeypatch):
    rows = {"nyu-mll/glue": [{"sentence": "nice ", "label": 1, "idx": 0}],
            "Salesforce/wikitext": [{"text": " = A = \n"}, {"text": ""}, {"text": " body \n"}]}
    monkeypatch.setattr(data, "_load_hf", lambda spec, split: rows[spec[0]])
    assert load_sst2("dev") == [("nice", 1)]
    assert load_wikitext2("test") == " = A = \n\n body \n"


# ------------------------------------------------------------------------------- WikiText-2
def test_wikitext_is_read_verbatim(tmp_path, no_env_dir):
    text = " = Title = \n \n Some text , with ünïcode . \n"
    write_wikitext(tmp_path, {"test": text})
    assert load_wikitext2("test", tmp_path) == text


def test_lm_splits_fall_back_to_valid_when_train_is_missing(tmp_path, no_env_dir, no_hub):
    valid = numbered_lines("valid", 100)
    write_wikitext(tmp_path, {"valid": valid, "test": numbered_lines("test", 10)})
    splits = wikitext2_lm_splits(tmp_path)
    assert isinstance(splits, LMSplits)
    assert splits.note == FALLBACK_NOTE and "not comparable" in splits.note
    assert splits.train + splits.heldout == valid
    assert splits.train.count("\n") == 95 and splits.heldout.count("\n") == 5
    assert splits.heldout.startswith(" valid line 95 ")
    assert splits.test == numbered_lines("test", 10)


def test_lm_splits_use_the_real_train_file_when_present(tmp_path, no_env_dir):
    write_wikitext(tmp_path, {"train": numbered_lines("train", 20), "valid": numbered_lines("v", 5),
                              "test": numbered_lines("t", 5)})
    splits = wikitext2_lm_splits(tmp_path)
    assert splits.note == STANDARD_NOTE
    assert (splits.train, splits.heldout) == (numbered_lines("train", 20), numbered_lines("v", 5))


def test_lm_splits_reject_a_meaningless_heldout_fraction(tmp_path):
    with pytest.raises(BadInputError, match="heldout_fraction"):
        wikitext2_lm_splits(tmp_path, heldout_fraction=1.5)


# ------------------------------------------------------------------------------ real data
@needs_real_data
@pytest.mark.data
def test_real_sst2_matches_the_published_split_sizes():
    dev, train = load_sst2("dev", REAL_DATA), load_sst2("train", REAL_DATA)
    assert len(dev) == 872 and sum(label for _, label in dev) == 444
    assert len(train) == 67349 and sum(label for _, label in train) == 37569
    assert all(sentence == sentence.strip() and sentence for sentence, _ in dev)


@needs_real_data
@pytest.mark.data
def test_real_wikitext_splits_carry_the_provenance_note():
    splits = wikitext2_lm_splits(REAL_DATA)
    if not (Path(REAL_DATA) / "wikitext-2-raw" / "wiki.train.raw").exists():
        assert splits.note == FALLBACK_NOTE
        valid = load_wikitext2("valid", REAL_DATA)
        assert splits.train + splits.heldout == valid
        assert valid.count("\n") == 3760
    assert splits.test.count("\n") == 4358
