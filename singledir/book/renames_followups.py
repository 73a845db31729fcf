"""Chapter 8's own parameters, grouped by experiment (issue 32): each old flat key and the
``group.key`` that replaced it, so that a parameter file still written the old way can be told
which key to write instead. A group is given whole in a parameter file (papermill replaces it)."""
from __future__ import annotations

FOLLOWUP_RENAMES = {
    "n_fit_data": "f3_fit.n_data",  # F3: training examples the optimal constants are fitted on
    "fit_steps": "f3_fit.steps",  # F3: linearizations of the fit
    "order_grid": "f4_orders.grid",  # F4: ablated counts per layer
    "order_repetitions": "f4_orders.repetitions",  # F4: random orders per layer
    "f2_mlp_train": "f2_mlp.train",
    "f2_n_train": "f2_mlp.n_train",
    "f2_mlp_seeds": "f2_mlp.seeds",
    "f2_conv_train": "f2_conv.train",
    "f2_conv_n_train": "f2_conv.n_train",
    "f2_conv_seeds": "f2_conv.seeds",
    "f7_n_select": "f7_units.n_select",  # F7: memorized examples (at most) the units are chosen on
    "f7_repetitions": "f7_units.repetitions",  # F7: random draws of as many units
}
