"""singledir.pages.plots: figures that say nothing misleading and raise no library warnings."""
from __future__ import annotations

import pandas as pd

from helpers import NAN

def test_a_scatter_with_no_point_to_colour_raises_no_seaborn_warning(recwarn):
    import matplotlib

    matplotlib.use("Agg")
    from singledir.pages import plots

    # a tanh network's page: no unit has a selectivity index, so no point is left to colour by depth
    live = pd.DataFrame({"selectivity": [NAN, NAN], "delta_loss": [0.1, 0.2], "depth": [NAN, NAN]}).dropna()
    plots.scatter_with_fit(live, "selectivity", "delta_loss", hue="depth")
    assert [str(w.message) for w in recwarn] == []
