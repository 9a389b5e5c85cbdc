"""Search strategies, one module each: tiered (QSLM) and the baselines it is measured against."""
