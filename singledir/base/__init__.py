"""The ground floor: the on-disk result cache with code versions and source hashes (``cache``),
progress notes and timing (``progress``), and the allocator policy that keeps freed memory in the
process (``memory``), set here: training, measuring and sweeping import this floor, so every
chapter, worker process and script that trains or measures runs with it."""
from .memory import hold_freed_memory

hold_freed_memory()  # tensors land in pages already mapped: faster, the same bits (benchmarks/bench_memory.py)
