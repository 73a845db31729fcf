"""The figures' common ground: the column they are drawn for, their panels, the data they were drawn
from, and gluing them into a chapter.

Every figure is drawn for the book's text column: :data:`COLUMN_INCHES` wide at :data:`DPI`, so that
it is shown at about its natural size, with no text smaller than :data:`MIN_FONT_PT` (set once here,
in the theme). A figure function decorated with :func:`keeps_data` attaches the tables it was given
to the figure it returns (``fig.singledir_data``); :func:`glue_figure` checks the figure's text,
writes those tables as one CSV beside the chapter's findings (the book links it under the figure)
and closes the figure.
"""
from __future__ import annotations

import functools
import inspect
import math
import os
from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.text
import pandas as pd
import seaborn as sns

DPI = 100                # pixels per inch of the figures' PNG images
COLUMN_PX = 670          # the book's text column at 1280 px (sphinx-book-theme), in CSS pixels
COLUMN_INCHES = COLUMN_PX / DPI
MIN_FONT_PT = 9          # the smallest text in any figure, in points
MIN_TEXT_PX = 9          # the smallest text height a reader should meet on the page, in CSS pixels
PANEL_HEIGHT = 3.0       # inches per row of panels
FIGURE_DATA = "figures"  # in a chapter run's results folder ($SINGLEDIR_RESULTS): NAME.csv per glued figure
DATA_ATTR = "singledir_data"  # {table name: DataFrame} a figure was drawn from

sns.set_theme(context="notebook", style="whitegrid", font_scale=0.85,  # ticks and legends 9.35 pt
              rc={"figure.dpi": DPI, "savefig.dpi": DPI, "legend.title_fontsize": 10})


def panels(n: int, height: float = PANEL_HEIGHT, sharey: bool = False, stacked: bool = False):
    """A column-wide figure with ``n`` panels: side by side for two, two per row for an even
    number, one above the other otherwise (three do not fit the column legibly) or when
    ``stacked``. Returns ``(fig, axes)`` with ``axes`` a flat list of ``n`` axes."""
    ncols = 1 if stacked or n == 1 or n % 2 else 2
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(COLUMN_INCHES, height * nrows), sharey=sharey, squeeze=False)
    return fig, list(axes.flat)[:n]


def smallest_text_px(fig) -> float:
    """Height in CSS pixels of the figure's smallest visible text once the figure is shown in the
    text column (an image wider than :data:`COLUMN_PX` is scaled down to it)."""
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()]
    if not sizes:
        return math.inf
    width_px = fig.get_size_inches()[0] * fig.dpi
    return min(sizes) * fig.dpi / 72 * min(1.0, COLUMN_PX / width_px)


def _tables(name: str, value) -> dict[str, pd.DataFrame]:
    """The tables in one argument of a figure function: a DataFrame, a dict of them (one per key)
    or a list of records (a training history); nothing else."""
    if isinstance(value, pd.DataFrame):
        return {name: value}
    if isinstance(value, dict) and value and all(isinstance(v, pd.DataFrame) for v in value.values()):
        return {f"{name}: {k}": v for k, v in value.items()}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return {name: pd.DataFrame(value)}
    return {}


def keeps_data(fn):
    """Decorator: the figure ``fn`` returns carries the tables among its arguments as
    ``fig.singledir_data`` (``{argument name: DataFrame}``), unless ``fn`` attached its own."""
    sig = inspect.signature(fn)

    @functools.wraps(fn)
    def inner(*args, **kwargs):
        fig = fn(*args, **kwargs)
        if isinstance(fig, plt.Figure) and not getattr(fig, DATA_ATTR, None):
            data: dict[str, pd.DataFrame] = {}
            for name, value in sig.bind(*args, **kwargs).arguments.items():
                data.update(_tables(name, value))
            setattr(fig, DATA_ATTR, data)
        return fig
    return inner


def figure_table(data: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The tables a figure was drawn from as one: a single table as it is (a named index kept as a
    column), several one under the other with a first column ``table`` naming each."""
    def flat(df: pd.DataFrame) -> pd.DataFrame:
        return df.reset_index() if any(n is not None for n in df.index.names) else df.reset_index(drop=True)

    if not data:
        return pd.DataFrame()
    if len(data) == 1:
        return flat(next(iter(data.values())))
    return pd.concat([flat(df).assign(table=k) for k, df in data.items()], ignore_index=True).pipe(
        lambda t: t[["table", *[c for c in t.columns if c != "table"]]])


def figure_data_path(name: str) -> Path | None:
    """Where a chapter run writes the data of its figure ``name`` (None outside a book's chapter)."""
    folder = os.environ.get("SINGLEDIR_RESULTS")
    return Path(folder) / FIGURE_DATA / f"{name}.csv" if folder else None


def write_figure_data(name: str, fig) -> Path | None:
    """The tables ``fig`` was drawn from (:func:`keeps_data`) as ``NAME.csv`` in the chapter run's
    results folder; returns the path (None outside a book's chapter)."""
    path = figure_data_path(name)
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    figure_table(getattr(fig, DATA_ATTR, None) or {}).to_csv(path, index=False)
    return path


def glue_figure(name: str, fig) -> None:
    """Glue ``fig`` under ``name`` for a ``{glue:figure}`` directive, write its data
    (:func:`write_figure_data`) and close it, so that the figure appears once, numbered, and not also
    as the output of the cell that made it."""
    from myst_nb import glue

    px = smallest_text_px(fig)
    smallest = min((t.get_fontsize() for t in fig.findobj(matplotlib.text.Text)
                    if t.get_visible() and t.get_text().strip()), default=MIN_FONT_PT)
    if px < MIN_TEXT_PX or smallest < MIN_FONT_PT:
        w = fig.get_size_inches()[0]
        plt.close(fig)
        raise ValueError(f"figure {name!r}: its smallest text ({smallest:g} pt) would be {px:.1f} px high in the text column "
                         f"(figure {w:.1f} in wide, at least {MIN_TEXT_PX} px wanted): draw it at most "
                         f"{COLUMN_INCHES:.1f} in wide (plots.panels) with text of at least {MIN_FONT_PT} pt")
    write_figure_data(name, fig)
    glue(name, fig, display=False)
    plt.close(fig)


def html_table(df: pd.DataFrame, css_class: str = ""):
    """``df`` as an HTML table of the book's style (class ``book-table``, plus ``css_class``): no
    index, cells that wrap within the text column (see ``book_static/singledir.css``)."""
    from IPython.display import HTML

    return HTML(df.to_html(index=False, border=0, na_rep="", classes=["book-table", css_class] if css_class else
                           ["book-table"]))
