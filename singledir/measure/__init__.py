"""The measures floor: hooks (``record``), the perturbation engine (``engine``, evaluating through
``plan``: the network as a chain of stages, incremental updates), ablation orders (``orders``),
the curves' areas (``areas``), ablation and noise (``perturb``), per-class damage and ordered
ablation (``ablations``), optimal ablation constants (``optimal_ablation``), ``selectivity``,
``information``, per-unit tables (``units``), early stopping by AUC (``early_stopping``) and
chapter 8's measures (``followups``, ``checkpoints``, ``subsets``, ``disagreement``)."""
