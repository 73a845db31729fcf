"""Deciding: the pivot behind every interval (``pivots``), the estimators (``stats``), the claims
with their rules, and the verdicts they give. Imports neither torch nor a renderer."""
