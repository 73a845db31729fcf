"""Deciding: the statistics, the claims with their rules, and the verdicts they give. Imports
neither torch nor a renderer."""
