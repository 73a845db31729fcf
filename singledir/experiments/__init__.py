"""The experiments floor: running many networks and their measures (``sweep``) and where they run
(``executors``: worker processes, Dask)."""
