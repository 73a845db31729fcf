"""singledir: the package behind the executable reproduction of Morcos et al. (ICLR 2018),
*On the importance of single directions for generalization*.

Modules follow the data flow, each floor importing only the floors below it:

* data: ``datasets`` (loaders) -> ``data`` (registry, label corruption, subsets);
* networks: ``models`` -> ``stacked`` (many networks as one) and ``regularize`` (the selectivity
  regularizer) -> ``train`` and ``ensemble`` (seeded, cached training, alone or in groups), with
  ``cache`` and ``progress`` beneath; ``heldout`` (a run's held-out set in validation and test);
* measures: ``record`` (hooks) -> ``engine`` (how a perturbation is evaluated fast) -> ``perturb``
  (ablation, noise, importance), ``selectivity``, ``information``, ``analysis`` (per-unit tables);
* experiments: ``sweep`` (many runs, resumable), ``stats`` (intervals, power), ``claims`` (the
  paper's claims and their rules), ``scorecard`` (findings), ``early_stopping``, ``plots``;
* the book: ``params`` (parameter files), ``runner`` (executing a chapter), ``results`` (the
  findings files a run wrote), ``staging`` (rendering), ``book`` (the command line).
"""
__version__ = "0.2.0"
