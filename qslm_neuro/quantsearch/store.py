"""One SQLite store for every evaluation a search makes, so a killed search resumes for free.

Rows are keyed by ``(kind, plan key, evaluator fingerprint)``: ``kind`` says which evaluation it
was (``full``, ``calibration``, ``proxy`` ...), the plan key is :attr:`QuantPlan.key` and the
fingerprint identifies the model weights and the evaluation (see
:attr:`qslm_neuro.quantsearch.evaluator.Evaluator.fingerprints`), so a result is never reused for
another model, data set or quantizer. Each result is committed in its own transaction the moment
it exists: a kill loses at most the evaluation in flight, never a half-written row. Results are
JSON (floats round-trip exactly), so a resumed search sees the very numbers the first run saw and
makes the same decisions.

A store also remembers what its search was run on (:meth:`EvaluationStore.claim`: weights,
evaluation data, calibration subset, proxy batch, quantizer). Opening it for a search of anything
else is refused, naming what differs, unless a new run is asked for (the old file is then kept
beside it, never overwritten). The file is created only when the first result is written, so a
search that fails validation leaves nothing behind. Each process that worked on the run adds its
wall and CPU seconds, so a resumed report counts them all.
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
_META_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS run_identity (component TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sessions (started_unix REAL, wall_s REAL, cpu_s REAL)")
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
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._pending_identity: dict[str, str] | None = None
        self._session: tuple[float, float] | None = None  # (start unix time, start CPU time)
        self._session_row: int | None = None
        if path is None or path.exists():
            self._connect()

    def _connect(self) -> sqlite3.Connection:
        """Open (creating the file and its folder on first use) and make the tables."""
        if self._conn is None:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._conn = sqlite3.connect(str(self.path) if self.path is not None
                                             else ":memory:")
                with self._conn:
                    for statement in (_SCHEMA, *_META_SCHEMA):
                        self._conn.execute(statement)
            except sqlite3.DatabaseError as exc:
                self._conn = None
                raise BadInputError(
                    f"evaluation store {str(self.path)!r} cannot be opened as SQLite ({exc}); "
                    "delete it or choose another run directory") from exc
            if self._pending_identity is not None:
                self._write_identity(self._pending_identity)
                self._pending_identity = None
        return self._conn

    # -- what the run is of ------------------------------------------------------------------
    def identity(self) -> dict[str, str]:
        """The recorded identity of the run this store holds (empty for a new store)."""
        if self._conn is None:
            return dict(self._pending_identity or {})
        rows = self._conn.execute("SELECT component, value FROM run_identity").fetchall()
        return dict(rows)

    def claim(self, identity: dict[str, str], new_run: bool = False) -> None:
        """Bind this store to the search described by ``identity`` (see the module docstring).

        Raises BadInputError naming every component that differs from the recorded run, unless
        ``new_run``: then the old file is renamed aside (``evaluations.sqlite.previous-N``) and
        this store starts empty.
        """
        recorded = self.identity()
        differs = {k: (recorded.get(k), identity.get(k)) for k in sorted(set(recorded) | set(identity))
                   if recorded.get(k) != identity.get(k)} if recorded else {}
        if differs and not new_run:
            where = str(self.path) if self.path is not None else "memory"
            lines = "; ".join(f"{k}: stored {old!r}, now {new!r}" for k, (old, new) in
                              differs.items())
            raise BadInputError(
                f"the evaluation store {where} holds a search of something else ({lines}); "
                "resume it only with the same model, data and evaluation, or start over with "
                "--new-run (Python: new_run=True; the old store is kept beside it) or give "
                "another --out")
        if new_run and (recorded or self.count()):
            self._archive()
        if self._conn is None:
            self._pending_identity = dict(identity)
        else:
            self._write_identity(identity)

    def _write_identity(self, identity: dict[str, str]) -> None:
        with self._conn:  # type: ignore[union-attr]
            self._conn.execute("DELETE FROM run_identity")  # type: ignore[union-attr]
            self._conn.executemany(  # type: ignore[union-attr]
                "INSERT INTO run_identity VALUES (?, ?)", sorted(identity.items()))

    def _archive(self) -> None:
        """Move the current file aside (never overwrite an earlier archive) and start empty."""
        if self.path is None or self._conn is None:
            if self._conn is not None:
                with self._conn:
                    self._conn.execute("DELETE FROM evaluations")
                    self._conn.execute("DELETE FROM sessions")
            self._session_row = None
            return
        self._conn.close()
        self._conn, self._session_row = None, None
        n = 1
        while self.path.with_name(f"{self.path.name}.previous-{n}").exists():
            n += 1
        os.replace(self.path, self.path.with_name(f"{self.path.name}.previous-{n}"))

    # -- time spent on the run ---------------------------------------------------------------
    def begin_session(self, started_unix: float) -> None:
        """From now on every stored result also records this process's time so far, so a
        process killed mid-run still counts in :meth:`session_totals`."""
        self._session = (float(started_unix), time.process_time())
        self._session_row = None

    def _touch_session(self, conn: sqlite3.Connection) -> None:
        if self._session is None:
            return
        started, cpu0 = self._session
        self._write_session(conn, started, time.time() - started, time.process_time() - cpu0)

    def _write_session(self, conn: sqlite3.Connection, started: float, wall_s: float,
                       cpu_s: float) -> None:
        if self._session_row is None:
            cursor = conn.execute("INSERT INTO sessions VALUES (?, ?, ?)",
                                  (started, float(wall_s), float(cpu_s)))
            self._session_row = cursor.lastrowid
        else:
            conn.execute("UPDATE sessions SET wall_s = ?, cpu_s = ? WHERE rowid = ?",
                         (float(wall_s), float(cpu_s), self._session_row))

    def add_session(self, started_unix: float, wall_s: float, cpu_s: float) -> None:
        """This process's final time (replacing what :meth:`begin_session` recorded so far)."""
        conn = self._connect()
        with conn:
            self._write_session(conn, started_unix, wall_s, cpu_s)
        self._session, self._session_row = None, None

    def session_totals(self) -> tuple[float, float, int]:
        """Wall and CPU seconds of every process that worked on this run, and their number."""
        if self._conn is None:
            return 0.0, 0.0, 0
        wall, cpu, n = self._conn.execute(
            "SELECT COALESCE(SUM(wall_s), 0), COALESCE(SUM(cpu_s), 0), COUNT(*) FROM sessions"
        ).fetchone()
        return float(wall), float(cpu), int(n)

    @classmethod
    def at(cls, location: str | os.PathLike[str]) -> "EvaluationStore":
        """The store at ``location``: a ``.sqlite`` file, else a run directory (created if
        missing) holding ``evaluations.sqlite``."""
        path = Path(location)
        return cls(path if path.suffix == ".sqlite" else path / STORE_NAME)

    def get(self, kind: str, plan_key: str, fingerprint: str) -> dict[str, Any] | None:
        if self._conn is None:
            return None
        row = self._conn.execute(
            "SELECT result FROM evaluations WHERE kind = ? AND plan_key = ? AND fingerprint = ?",
            (kind, plan_key, fingerprint)).fetchone()
        return None if row is None else json.loads(row[0])

    def has(self, kind: str, plan_key: str, fingerprint: str) -> bool:
        if self._conn is None:  # no file yet: nothing stored
            return False
        return self._conn.execute(
            "SELECT 1 FROM evaluations WHERE kind = ? AND plan_key = ? AND fingerprint = ?",
            (kind, plan_key, fingerprint)).fetchone() is not None

    def put(self, kind: str, plan_key: str, fingerprint: str, plan_json: str,
            result: dict[str, Any], seconds: float) -> None:
        text = json.dumps(result, default=_plain, allow_nan=True)
        conn = self._connect()
        with conn:  # one transaction per result: committed or absent, never partial
            conn.execute(
                "INSERT OR REPLACE INTO evaluations VALUES (?, ?, ?, ?, ?, ?, ?)",
                (kind, plan_key, fingerprint, plan_json, text, float(seconds), time.time()))
            self._touch_session(conn)

    def count(self, kind: str | None = None) -> int:
        if self._conn is None:
            return 0
        if kind is None:
            return self._conn.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
        return self._conn.execute("SELECT COUNT(*) FROM evaluations WHERE kind = ?",
                                  (kind,)).fetchone()[0]

    def keys(self, kind: str) -> list[str]:
        if self._conn is None:
            return []
        rows = self._conn.execute("SELECT plan_key FROM evaluations WHERE kind = ? "
                                  "ORDER BY created_unix", (kind,)).fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

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
