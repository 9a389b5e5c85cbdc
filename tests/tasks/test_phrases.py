"""The phrase index answers exactly what the literal substring test would, only faster."""
from __future__ import annotations

import random

import pytest

from qslm_neuro.errors import BadInputError
from qslm_neuro.tasks.phrases import PhraseIndex, phrases_of, words_of
from qslm_neuro.tasks.sst2 import split_heldout

#: rows with what a substring test is touchy about: double, leading and trailing spaces, tabs,
#: repeated rows, a periodic phrase overlapping itself, and the empty row
EDGE_ROWS = ["a b c", "a b", "b c", "x a b c y", "a  b", " a b", "a b ", "a\tb c", "a b c",
             "z z z", "z z", "", "q", "c a b c a", "b"]


def literal_count(rows: list[str], row: str) -> int:
    """How often f" {row} " occurs in the joined rows, overlapping occurrences included."""
    corpus = "\n".join(f" {r} " for r in rows)
    needle, count, at = f" {row} ", 0, corpus.find(f" {row} ")
    while at != -1:
        count, at = count + 1, corpus.find(needle, at + 1)
    return count


def random_rows(seed: int, n: int = 120) -> list[str]:
    rng = random.Random(seed)
    vocab = ["a", "b", "c", "", "d\te"]
    return [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 6))) for _ in range(n)]


@pytest.mark.parametrize("rows", [EDGE_ROWS, random_rows(0), random_rows(1)])
def test_the_index_counts_as_the_substring_test(rows):
    for key_words in (1, 2):
        index = PhraseIndex(rows, key_words)
        for row in rows:
            if len(words_of(row)) < key_words:
                continue
            for times in (1, 2, 3):
                assert index.occurs_at_least(words_of(row), times) == \
                    (literal_count(rows, row) >= times), (row, key_words, times)


@pytest.mark.parametrize("rows", [EDGE_ROWS, random_rows(2)])
def test_phrases_of_is_every_row_the_substring_test_finds(rows):
    held = rows[: len(rows) // 3]
    held_text = "\n".join(f" {sentence} " for sentence in held)
    found = phrases_of(held)
    for row in rows:
        assert (row in found) == (f" {row} " in held_text), row


def test_split_heldout_holds_out_full_sentences_and_their_phrases():
    rows = [(row, i % 2) for i, row in enumerate(EDGE_ROWS + random_rows(3, 300))]
    train, held = split_heldout(rows, 5, seed=0, min_words=3)
    held_text = "\n".join(f" {sentence} " for sentence, _ in held)
    assert len(held) == 5
    for sentence, _ in held:
        assert literal_count([r for r, _ in rows], sentence) == 1, sentence
    assert all(f" {sentence} " not in held_text for sentence, _ in train)
    kept = {id(e) for e in train} | {id(e) for e in held}
    for e in rows:  # what left training is held out or a phrase of a held-out sentence
        assert id(e) in kept or f" {e[0]} " in held_text


def test_a_row_with_a_newline_is_refused():
    with pytest.raises(BadInputError, match="newline"):
        PhraseIndex(["a\nb"], 1)
