"""What a candidate carries of its hardware estimate: one typed summary, one field list.

:class:`HardwareSummary` is made from a :class:`~qslm_neuro.hw.CostReport` on any chip at any
token rate (the fields are the same whichever chip or rate), stored as its :meth:`to_dict` in
the evaluation store and carried by a candidate as that dict (``candidate.hw``: JSON-ready, read
by reports, tables and plots by field name).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

#: Relative slack when checking that a chip sustains the asked-for token rate.
RATE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class HardwareSummary:
    """A candidate's hardware figures on one chip (SI units)."""

    energy_per_token_j: float
    power_w: float            # at ``tokens_per_s``
    cores: int
    chips: int
    feasible: bool            # the chip's own checks (memory per core, ...) hold
    latency_per_token_s: float
    tokens_per_s: float       # the rate power is given at (the fastest sustained by default)
    max_tokens_per_s: float
    synaptic_memory_bytes: float
    rate_ok: bool             # the chip sustains ``tokens_per_s``
    hardware: str             # the chip's name
    flags: tuple[str, ...] = ()

    @classmethod
    def from_report(cls, report: Any) -> "HardwareSummary":
        """The summary of a :class:`~qslm_neuro.hw.CostReport`."""
        return cls(
            energy_per_token_j=report.energy_per_token_j, power_w=report.power_w,
            cores=report.cores, chips=report.chips, feasible=report.feasible,
            latency_per_token_s=report.latency_per_token_s, tokens_per_s=report.tokens_per_s,
            max_tokens_per_s=report.max_tokens_per_s,
            synaptic_memory_bytes=report.synaptic_memory_bytes,
            rate_ok=bool(report.tokens_per_s <= report.max_tokens_per_s * (1 + RATE_TOLERANCE)),
            hardware=report.hardware, flags=tuple(report.flags))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "HardwareSummary":
        """Back from :meth:`to_dict` (a stored estimate, ``candidate.hw``)."""
        values = {f.name: data[f.name] for f in fields(cls)}
        values["flags"] = tuple(values["flags"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, the fields in their order (``flags`` as a list)."""
        data = asdict(self)
        data["flags"] = list(self.flags)
        return data


#: The summary's field names, in order.
SUMMARY_FIELDS = tuple(f.name for f in fields(HardwareSummary))
