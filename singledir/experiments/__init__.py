"""The experiments floor: sweeps, statistics, the paper's claims, the scorecard, early stopping,
plots, and what the chapters share (``chapter``)."""
