"""Plots and tables: search results (Pareto, precision maps, sensitivities) and hardware costs."""
