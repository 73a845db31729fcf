"""The networks floor: models (``models``), run configs, keys and cache (``runs``), the solo loop
(``solo``), many networks as one (``stacked``; ``group_run``, one group's loop; ``groups``, which
networks train together and where), and the entry point ``training``."""
