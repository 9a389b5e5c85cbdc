"""Cost equations per chip family: ``neuromorphic`` (Loihi-like) and ``mcu`` (embedded SoC)."""
