"""The search's one hardware seam: budgets, the hardware summary of a candidate, chip costers."""
