"""Which rows of a phrase corpus (SST-2's train split) contain which others, fast.

SST-2's train split lists every phrase of its parse trees beside the full sentences, so holding
sentences out of training means asking "is this row a phrase of another row?" for thousands of
rows. Asked literally (``f" {row} " in corpus``) that scans megabytes per question, seconds in
all, and every process that loads the held-out split paid it. Here a row is its words (split on
single spaces, so that double spaces count exactly as they do in a substring test), and the
questions are answered from a dictionary keyed by a row's leading words.

"A row ``r`` is a phrase of ``s``" means ``f" {r} "`` occurs in ``f" {s} "``: ``r``'s words are a
contiguous run of ``s``'s words. Rows must hold no newline (a TSV field cannot).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from qslm_neuro.errors import BadInputError


def words_of(row: str) -> tuple[str, ...]:
    """A row's words, split on single spaces (empty words kept, as a substring test sees them)."""
    if "\n" in row:
        raise BadInputError(f"row {row[:40]!r} holds a newline; phrase rows are single lines")
    return tuple(row.split(" "))


class PhraseIndex:
    """Where every run of ``key_words`` words starts, over a list of rows."""

    def __init__(self, rows: Sequence[str], key_words: int):
        if key_words < 1:
            raise BadInputError(f"key_words={key_words}; expected at least 1")
        self.rows = [words_of(row) for row in rows]
        self.key_words = key_words
        self.starts: dict[tuple[str, ...], list[tuple[int, int]]] = defaultdict(list)
        for number, words in enumerate(self.rows):
            for at in range(len(words) - key_words + 1):
                self.starts[words[at:at + key_words]].append((number, at))

    def occurs_at_least(self, phrase: tuple[str, ...], times: int) -> bool:
        """Whether ``phrase`` (at least ``key_words`` long) occurs ``times`` times or more,
        counting overlapping occurrences and the phrase's own row."""
        if len(phrase) < self.key_words:
            raise BadInputError(f"a phrase of {len(phrase)} words is shorter than the index's "
                                f"key of {self.key_words}")
        found = 0
        for number, at in self.starts.get(phrase[:self.key_words], ()):
            if self.rows[number][at:at + len(phrase)] == phrase:
                found += 1
                if found >= times:
                    return True
        return False


def phrases_of(sentences: Sequence[str]) -> set[str]:
    """Every row that is a phrase of one of ``sentences``: each contiguous run of its words."""
    found: set[str] = set()
    for sentence in sentences:
        words_of(sentence)  # refuses a newline, across which a substring test would match
        gaps = [i for i, char in enumerate(sentence) if char == " "]
        starts = [0] + [gap + 1 for gap in gaps]
        ends = gaps + [len(sentence)]
        for start in starts:
            found.update(sentence[start:end] for end in ends if end >= start)
    return found
