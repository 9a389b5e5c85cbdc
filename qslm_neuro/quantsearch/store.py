"""One SQLite store for every evaluation a search makes, so a killed search resumes for free.

Rows are keyed by ``(kind, plan key, evaluator fingerprint)``: ``kind`` says which evaluation it
was (``full``, ``calibration``, ``proxy`` ...), the plan key is :attr:`QuantPlan.key` and the
fingerprint identifies the model weights and the evaluation (see
:meth:`qslm_neuro.quantsearch.evaluator.Evaluator.fingerprint`), so a result is never reused for
another model, data set or quantizer. Each result is committed in its own transaction the moment
it exists: a kill loses at most the evaluation in flight, never a half-written row. Results are
JSON (floats round-trip exactly), so a resumed search sees the very numbers the first run saw and
makes the same decisions.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from qslm_neuro.errors import BadInputError

STORE_NAME = "evaluations.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS evaluations (
    kind TEXT NOT NULL,
    plan_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    plan TEXT NOT NULL,
    result TEXT NOT NULL,
    seconds REAL NOT NULL,
    created_unix REAL NOT NULL,
    PRIMARY KEY (kind, plan_key, fingerprint)
)"""


class EvaluationStore:
    """Evaluation results by (kind, plan key, fingerprint); ``path=None`` keeps them in memory."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is not None:
            path = Path(path)
            if path.is_dir():
                path = path / STORE_NAME
            path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self._conn = sqlite3.connect(str(path) if path is not None else ":memory:")
            with self._conn:
                self._conn.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise BadInputError(
                f"evaluation store {str(path)!r} cannot be opened as SQLite ({exc}); delete it "
                "or choose another run directory") from exc

    @classmethod
    def at(cls, location: str | os.PathLike[str]) -> "EvaluationStore":
        """The store at ``location``: a ``.sqlite`` file, else a run directory (created if
        missing) holding ``evaluations.sqlite``."""
        path = Path(location)
        return cls(path if path.suffix == ".sqlite" else path / STORE_NAME)

    def get(self, kind: str, plan_key: str, fingerprint: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT result FROM evaluations WHERE kind = ? AND plan_key = ? AND fingerprint = ?",
            (kind, plan_key, fingerprint)).fetchone()
        return None if row is None else json.loads(row[0])

    def has(self, kind: str, plan_key: str, fingerprint: str) -> bool:
        return self._conn.execute(
            "SELECT 1 FROM evaluations WHERE kind = ? AND plan_key = ? AND fingerprint = ?",
            (kind, plan_key, fingerprint)).fetchone() is not None

    def put(self, kind: str, plan_key: str, fingerprint: str, plan_json: str,
            result: dict[str, Any], seconds: float) -> None:
        text = json.dumps(result, default=_plain, allow_nan=True)
        with self._conn:  # one transaction per result: committed or absent, never partial
            self._conn.execute(
                "INSERT OR REPLACE INTO evaluations VALUES (?, ?, ?, ?, ?, ?, ?)",
                (kind, plan_key, fingerprint, plan_json, text, float(seconds), time.time()))

    def count(self, kind: str | None = None) -> int:
        if kind is None:
            return self._conn.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
        return self._conn.execute("SELECT COUNT(*) FROM evaluations WHERE kind = ?",
                                  (kind,)).fetchone()[0]

    def keys(self, kind: str) -> list[str]:
        rows = self._conn.execute("SELECT plan_key FROM evaluations WHERE kind = ? "
                                  "ORDER BY created_unix", (kind,)).fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "EvaluationStore":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = str(self.path) if self.path is not None else "memory"
        return f"EvaluationStore({where}, {self.count()} evaluations)"


def _plain(obj: Any) -> Any:
    """numpy/torch scalars and arrays as plain Python values (JSON has no other types)."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"cannot store a {type(obj).__name__} in an evaluation result")
