"""Long evaluations show progress on their own (``qslm eval``), not inside a search's bar."""
from __future__ import annotations

from qslm_neuro.tasks.base import PROGRESS_MIN_BATCHES, batch_progress


def test_a_forced_bar_wraps_the_batches_and_yields_them_all():
    items = list(range(PROGRESS_MIN_BATCHES))
    wrapped = batch_progress(items, len(items), "test", progress=True)
    assert wrapped is not items and list(wrapped) == items
    assert batch_progress(items, len(items), "test", progress=False) is items


def test_auto_shows_a_bar_only_for_long_work_in_a_terminal_with_no_other_bar(monkeypatch):
    import sys

    from tqdm.auto import tqdm

    items = list(range(PROGRESS_MIN_BATCHES))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert batch_progress(items, len(items), "test") is not items
    assert batch_progress(items[:2], 2, "test") == items[:2]       # short: no bar
    with tqdm(total=1, disable=False) as outer:                       # a search's bar
        assert batch_progress(items, len(items), "test") is items
        outer.update()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert batch_progress(items, len(items), "test") is items        # a log file: no bar
