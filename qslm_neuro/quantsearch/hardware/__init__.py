"""The search's one hardware seam: everything the search knows about chips lives here.

* :mod:`~.units` - the one parser of numbers and units (bytes, SI prefixes, %) and the token
  rate check;
* :mod:`~.budgets` - the table of hardware bounds (:data:`~.budgets.KINDS`), their parsing and
  checks, and :class:`~.budgets.Constraints`, every constraint of a search as one object;
* :mod:`~.summary` - :class:`~.summary.HardwareSummary`, the one field list of a candidate's
  hardware figures, whatever the chip or token rate;
* :mod:`~.coster` - one :class:`~.coster.ChipCoster` per chip: a plan's Workload built once, its
  estimate stored by chip identity beside the chip-free task evaluation;
* :mod:`~.chips` - chip lists (``"loihi2,embedded-soc"``, repeated ``--hw``, lists).

Adding a hardware bound is an edit of this package only: see :mod:`~.budgets`. Nothing here
imports torch at import time (the CLI's parser reads :data:`~.budgets.KINDS`).
"""
