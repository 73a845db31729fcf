"""The networks floor: models (``models``), run configs, keys and cache (``runs``), the solo loop
(``solo``), many networks as one (``stacked``, ``groups``), and the entry point ``training``."""
