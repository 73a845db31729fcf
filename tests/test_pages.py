"""The pages as a reader meets them, checked from the chapter sources: every figure glued once and
closed, a named parameters box and a closing box that says how to re-run the chapter, and prose
that states no finding of its own where it summarizes (a finding is a glued verdict or number)."""
from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from singledir.book import params as params_mod  # noqa: E402
from singledir.decide import claims as claims_mod  # noqa: E402
from singledir.pages import plots  # noqa: E402

INDEX = params_mod.ROOT / "index.md"

# Words that state a finding. In a chapter's opening and closing, chapter 7's guide and the first
# page's introduction they may appear only in a sentence that holds a glued result of a claim
# (a {glue:...} role of E1 ... E13: its verdict, estimate or interval).
FINDING = re.compile(r"\b(shows? that|showed|show it|reproduces|reproduced|confirms|confirmed|flattens|flattening|"
                     r"the same pattern|as this book did)\b", re.IGNORECASE)
GLUED_RESULT = re.compile(r"\{glue:\w+\}`(?:[^`]*::)?E\d+_")
CODE_BLOCK = re.compile(r"^```.*?^```\s*$", re.MULTILINE | re.DOTALL)
RERUN_BOX = re.compile(r":::\{admonition\} Re-running this chapter\n(.*?)\n:::\s*\Z", re.DOTALL)


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if s]


def unglued_findings(text: str) -> list[str]:
    """The sentences of ``text`` that state a finding without a glued result of a claim."""
    return [s for s in sentences(text) if FINDING.search(s) and not GLUED_RESULT.search(s)]


def opening(source: str) -> str:
    """The prose between a page's title and its first code cell or section."""
    body = re.split(r"^# [^\n]*\n", source, maxsplit=1, flags=re.MULTILINE)[1]
    return re.split(r"^```|^## ", body, maxsplit=1, flags=re.MULTILINE)[0]


def closing(source: str) -> str:
    """The prose after a chapter's last code cell or figure, the re-run box left out."""
    text = RERUN_BOX.sub("", source)
    return CODE_BLOCK.split(text)[-1]


def guide(source: str) -> str:
    """Chapter 7's paragraphs that relate a curve or a unit table to the paper's findings."""
    return "\n\n".join(p for p in source.split("\n\n") if re.search(r"the paper", p, re.IGNORECASE))


def summaries() -> dict[str, str]:
    out = {"index.md (introduction)": opening(INDEX.read_text())}
    for name, path in params_mod.chapter_paths().items():
        src = path.read_text()
        out[f"{name} (opening)"] = opening(src)
        out[f"{name} (closing)"] = closing(src)
        if name == "07_your_model":
            out[f"{name} (guide)"] = guide(src)
    return out


def test_the_check_catches_an_unglued_finding():
    src = ("# T\n\nIntro.\n\n```{code-cell} ipython3\nx = 1\n```\n\nChapters 2 and 3 show that this goes with "
           "memorization. The verdict is {glue:text}`E1_verdict`, which reproduces the paper.\n")
    assert unglued_findings(closing(src)) == ["Chapters 2 and 3 show that this goes with memorization."]
    assert unglued_findings(opening(src)) == []
    glued_sentence = "It has {glue:text}`n_units` units. In the paper's terms this shows that it memorizes."
    assert len(unglued_findings(glued_sentence)) == 1, "a glued number that is no claim's result does not count"


def test_summaries_state_no_finding_that_is_not_glued():
    bad = {place: found for place, text in summaries().items() if (found := unglued_findings(text))}
    assert not bad, ("these sentences state a finding that no glued verdict or number backs; glue it from the "
                     f"chapter's results or say what the paper reports instead: {bad}")


def test_each_chapter_names_its_parameters_box():
    for name, path in params_mod.chapter_paths().items():
        cell = re.search(r"```\{code-cell\}[^\n]*\n:tags: \[parameters[^\n]*\n(:[^\n]*\n)*", path.read_text())
        assert cell and 'code_prompt_show: "Parameters of this chapter"' in cell.group(0), (
            f"{name}: its parameters cell should carry "
            ':mystnb: {code_prompt_show: "Parameters of this chapter", ...} so its box is named')


def test_each_chapter_ends_with_how_to_rerun_it():
    by_chapter: dict[str, list[str]] = {}
    for c in claims_mod.CLAIMS.values():
        by_chapter.setdefault(c.chapter, []).append(c.id)
    for name, path in params_mod.chapter_paths().items():
        box = RERUN_BOX.search(path.read_text())
        assert box, f"{name}: should end with the ':::{{admonition}} Re-running this chapter' box"
        text = " ".join(box.group(1).split())
        assert f"`make book ONLY={name}`" in text and "`_build/scorecard.csv`" in text, (name, text)
        for cid in by_chapter.get(name, []):
            assert re.search(rf"\b{cid}\b", text), (name, cid, "the box should name the claims whose rows it writes")


def test_figures_are_glued_through_the_helper_that_closes_them():
    for name, path in params_mod.chapter_paths().items():
        direct = re.findall(r"\bglue\(\s*[\"']fig_\w+", path.read_text())
        assert not direct, (f"{name}: {direct} glues a figure with myst_nb.glue, which leaves it open to be drawn "
                            "again as the cell's output; use plots.glue_figure(name, fig)")


def test_glue_figure_closes_the_figure(monkeypatch):
    glued = []
    monkeypatch.setattr("myst_nb.glue", lambda name, obj, display=True: glued.append((name, display)))
    fig, _ = plots.panels(2)
    plots.glue_figure("fig_x", fig)
    assert glued == [("fig_x", False)]
    assert not plt.fignum_exists(fig.number)


def test_glue_figure_refuses_text_too_small_for_the_column(monkeypatch):
    monkeypatch.setattr("myst_nb.glue", lambda *a, **k: None)
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    axes[0].set_title("t")
    with pytest.raises(ValueError, match=r"figure 'fig_wide': its smallest text .* px high"):
        plots.glue_figure("fig_wide", fig)
    assert not plt.fignum_exists(fig.number)
    fig, ax = plots.panels(1)
    ax[0].plot([0, 1], label="a")
    ax[0].legend(fontsize=7)
    with pytest.raises(ValueError, match=r"\(7 pt\)"):
        plots.glue_figure("fig_small", fig)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_panels_fit_the_column(n):
    fig, axes = plots.panels(n)
    try:
        assert len(axes) == n
        assert fig.get_size_inches()[0] == pytest.approx(plots.COLUMN_INCHES)
        assert plots.smallest_text_px(fig) == float("inf") or plots.smallest_text_px(fig) >= plots.MIN_TEXT_PX
        if n == 3:
            assert all(ax.get_subplotspec().colspan.start == 0 for ax in axes), "three panels are stacked"
    finally:
        plt.close(fig)


def test_the_hyperparameter_figure_draws_without_a_warning():
    """Chapter 3's E5 figure, with settings that fit and settings that do not, draws without a
    matplotlib warning (one printed a UserWarning with a path into the page) and is legible."""
    import warnings

    import pandas as pd

    settings = pd.DataFrame([{"train.lr": lr, "train.batch_size": bs, "auc_zero": 0.1 * i, "test_acc": 0.5 + 0.05 * i,
                              "train_acc": 1.0 if i % 2 else 0.5}
                             for i, (lr, bs) in enumerate((lr, bs) for lr in (1e-3, 1e-2) for bs in (32, 128))])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plots.hyperparameter_grid(settings, fit=0.99)
    try:
        assert plots.smallest_text_px(fig) >= plots.MIN_TEXT_PX
        assert fig.get_size_inches()[0] <= plots.COLUMN_INCHES + 1e-9
    finally:
        plt.close(fig)
