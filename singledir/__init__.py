"""singledir: the package behind the executable reproduction of Morcos et al. (ICLR 2018),
*On the importance of single directions for generalization*.

A house with floors, each subpackage importing only the floors below it (``tests/test_architecture.py``
checks this and that no two modules import each other in a circle):

* ``base``: ``cache`` (the result cache, code versions, source hashes), ``progress`` (timing, notes),
  ``memory`` (freed memory kept in the process, set when the floor is imported);
* ``data``: ``raw`` (the loader registry, the stratified sampler) -> ``loaders`` (the built-in
  datasets, each registering itself) -> ``dataset`` (tensors, label corruption, subsets);
* ``nets``: ``models`` -> ``runs`` (run configs, the network key, the run cache) and ``heldout``
  (a run's held-out set as validation and test) -> ``regularize`` (the selectivity regularizer),
  ``stacked``, ``solo`` (one network alone), ``workers`` (single-thread worker processes, group
  sizes), ``group_run`` (one group's training loop and snapshot) and ``groups`` (which networks
  train together, where, cached) -> ``training`` (``train_network``);
* ``measure``: ``record`` (hooks) -> ``plan`` (the network as a chain of stages, incremental
  updates) -> ``engine`` (how a perturbation is evaluated) -> ``orders`` (ablation orders and
  paths), ``areas`` (AUCs) -> ``perturb`` (ablation, noise, importance), ``ablations`` (per-class
  damage, ordered ablation), ``optimal_ablation`` (Li & Janson's constants), ``selectivity``,
  ``information``, ``units`` (per-unit tables), ``checkpoints``, ``subsets``, ``disagreement``,
  ``early_stopping``, ``followups`` (chapter 8's measures of one network) -> ``followup_runs``
  (the same over groups of networks, one table each);
* ``decide``: ``pivots`` (an interval's pivot: levels, p-values, power, sizes) -> ``stats`` (the
  estimators: means, differences, rank correlations) -> ``rules`` (how an interval decides a part)
  -> ``claims`` (the claims, their rules and effects of interest) -> ``verdicts``, ``sizing``;
  ``followup_parts`` -> ``followup_numbers`` (chapter 8's scored parts and described numbers);
  neither torch nor a renderer;
* ``experiments``: ``sweep`` (many runs, resumable) and ``executors`` (its worker processes, Dask);
* ``pages``: what writes the book: ``plots`` and ``followup_plots`` (figures), ``scorecard``
  (findings, markdown tables, CSV, the ledger view), ``chapter`` (glue and report), ``grid`` and
  ``forest`` (the first page's verdict grid and forest plot), ``followup_setups`` (chapter 8's
  scale-table cells), ``sentences`` (the words a result chooses); the only floor below ``book`` that
  knows the renderer;
* ``book``: ``shared`` (the defaults several chapters share, ``chapters/shared.yml``), ``parsed``
  (each chapter's source parsed once), ``params`` (parameter files), ``runner`` (executing a chapter), ``results`` (the findings files a run
  wrote), ``staging`` (rendering), ``registration`` (seeds a
  preset names, overlaps with the ledger's presets), ``cli`` (``python -m singledir.book``).
"""
__version__ = "0.2.0"
