"""The measures floor: hooks (``record``), the perturbation engine (``engine``), ablation and noise
(``perturb``), ``selectivity``, ``information`` and per-unit tables (``units``)."""
