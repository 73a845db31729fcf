"""The measures floor: hooks (``record``), the perturbation engine (``engine``), ablation and noise
(``perturb``), ``selectivity``, ``information``, per-unit tables (``units``), early stopping by AUC
(``early_stopping``) and chapter 8's measures (``followups``, ``checkpoints``, ``subsets``,
``disagreement``)."""
