"""The course as a student sees it: JupyterLab in headless Chromium (Debian's, driven by Playwright).

Notebook 06 runs on two small saved histories (micro searches with schedules C and DAS made here
first, so the course's sweep never runs); the stepper is moved with the keyboard on its slider and
with its Play button, and the rendered cell DAG (the SVG in the output area), the valid-architecture
count, the priority queue, the epoch, the per-cell counts, the decision just made (red) and, after a
node decision, its dropped edges (faded, dotted) must show what the saved history says; the
side-by-side view of DAS and C must show each side at the decisions made by the slider's iteration. Notebook 01 runs too, and every plotting cell must show an
image. The executed smoke copies of notebooks 02-05 (tests/conftest.py's ``course_smoke``) are opened
as they are, not run again, and their main figures must render as pictures. A screenshot of the stepper goes to the test's temporary folder; with
``SDAS_STEPPER_SCREENSHOT=PATH`` (``make screenshot``) it is also copied there, and with
``SDAS_STEPPER_RUNS=FOLDER`` (``make screenshot``: runs/course) the stepper replays copies of that folder's
``search-C-s0`` and ``search-das-s0`` (the course's tiny searches) instead of micro searches made here.

The server listens on 127.0.0.1 with a token and its own config and runtime folders, and is always
stopped. Chromium is launched with flags that keep it off the network.
"""

import dataclasses
import html
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from browser import ROOT, dismiss_popups, jupyterlab, launch, open_and_run_all, sync_playwright, with_parameters
from sdas_lib.core.counting import count_cell_architectures
from sdas_lib.core.history import describe_candidate, load_history, replay
from sdas_lib.run.presets import MICRO
from sdas_lib.viz.dags import render_svg, state_dag, step_arch
from sdas_lib.widgets.stepper import count_text, epoch_text

pytestmark = [pytest.mark.slow, pytest.mark.browser]
PLOTTING = re.compile(r"plt\.|plots\.|SVG\(|genotype_dag|show_stepper")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(folder, notebook URL template, browser, saved history folder): a micro search's history and
    parameterized copies of notebooks 01 and 06 in a folder that JupyterLab serves."""
    from sdas_lib.run.search import Searcher

    root = tmp_path_factory.mktemp("lab")
    history = root / "runs" / "search-C-s0"
    course = os.environ.get("SDAS_STEPPER_RUNS")  # make screenshot: the course's own searches (tiny), read only
    for schedule in ("C", "das"):  # notebook 06 steps C, and DAS beside C
        out = root / "runs" / f"search-{schedule}-s0"
        if course:
            shutil.copytree(Path(course) / out.name, out, ignore=shutil.ignore_patterns("checkpoint*.pt"))
        else:
            Searcher(dataclasses.replace(MICRO, threads=1), schedule, 0, out_dir=out, progress=False,
                     log=lambda s: None).run()
    params = dict(preset="micro", seeds=[0], data_root=str(root / "data"), runs_dir=str(root / "runs"),
                  figures_dir=str(root / "figures"), jobs=1)
    for name in ("01_continuous_relaxation", "06_genotypes_and_stepper"):
        with_parameters(ROOT / "notebooks" / f"{name}.ipynb", root / f"{name}.ipynb", **params)
    (root / "work").mkdir()
    with jupyterlab(root, root / "work") as url, sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield root, url, browser, history
        finally:
            browser.close()


def svg_texts(svg: str) -> list[str]:
    """The labels of an SVG as graphviz writes them (node names, edge ops)."""
    return [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def expected(history, i: int) -> dict:
    """What the stepper must show at step ``i``: the count, the queue lines, the first cell's DAG labels
    (the decision just made highlighted), the epoch, the per-cell counts and the decision just made."""
    steps = list(replay(history))
    step = steps[i]
    alpha, beta = step_arch(history, step)
    first = history.space.cell_type_names[0]
    just_made = history.decisions[i - 1] if i > 0 else None
    return {
        "count": count_text(step.valid_architectures),
        "queue": [describe_candidate(c, history.space, alpha) for c in step.queue[:5]],
        "labels": svg_texts(render_svg(state_dag(history.space, step.state, alpha, beta, first, highlight=just_made))),
        "M": len(steps) - 1,
        "epoch": epoch_text(history, step.iteration),
        "cells": {ct: f"{ct} cell {count_cell_architectures(step.state, ct):,}" for ct in history.space.cell_type_names},
        "just_made": just_made.describe() if just_made else "nothing decided yet",
    }


def in_view(page, locator):
    """``locator`` scrolled into view and rendered: JupyterLab skips rendering the cells out of view
    (CSS content-visibility), whose innerText is then empty."""
    locator.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.wait_for_function("e => e.innerText.trim().length > 0", arg=locator.element_handle(), timeout=30_000)
    return locator


def stepper_view(page, n: int = 0):
    """The n-th stepper page of the notebook: 0 the stepper, 1 and 2 the sides of the side-by-side view."""
    return page.locator(".widget-html-content:has-text('valid architectures left')").nth(n)


def shown(page) -> dict:
    """What the stepper's output area shows now."""
    view = in_view(page, stepper_view(page))
    text = view.inner_text()
    return {
        "step": int(re.search(r"step (\d+) of (\d+)", text).group(1)),
        "count": re.search(r"valid architectures left: (.*)", text).group(1).strip(),
        "queue": [q.inner_text().removeprefix("next: ").strip() for q in view.locator(".sdas-queue-line").all()],
        "labels": view.locator(".sdas-cell svg").first.locator("text").all_text_contents(),
        "epoch": view.locator(".sdas-epoch").inner_text().strip(),
        "cells": view.locator(".sdas-counts").inner_text(),
        "just_made": view.locator(".sdas-just-made").inner_text(),
        "curve": view.locator(".sdas-curve svg").count(),
    }


def assert_step(page, history, i: int) -> None:
    view = in_view(page, stepper_view(page))
    page.wait_for_function("([e, i]) => e.innerText.includes(`step ${i} of`)", arg=[view.element_handle(), i],
                           timeout=30_000)
    now, want = shown(page), expected(history, i)
    assert now["step"] == i
    assert now["count"] == want["count"]
    assert now["queue"] == want["queue"]
    assert [t.strip() for t in now["labels"]] == [t.strip() for t in want["labels"]]
    assert now["epoch"] == want["epoch"] and now["curve"] == 1
    assert all(c in now["cells"] for c in want["cells"].values())
    assert want["just_made"] in now["just_made"]


def move_slider(page, n: int, to: int, now: int) -> None:
    """Move the ``n``-th slider of the page from ``now`` to ``to`` with the keyboard."""
    page.locator(".widget-slider .noUi-handle").nth(n).click()
    for _ in range(abs(to - now)):
        page.keyboard.press("ArrowRight" if to > now else "ArrowLeft")


def test_the_stepper_moves_in_jupyterlab_with_the_keyboard_and_play(lab):
    root, url, browser, history_dir = lab
    history = load_history(history_dir)
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    open_and_run_all(page, url.format(path="06_genotypes_and_stepper.ipynb"), root / "failure-06.png")
    assert page.locator(".jp-OutputArea-output:has-text('Traceback')").count() == 0
    # DARTS_V2 and the found cells drawn (JupyterLab shows an SVG output as an <img>; the stepper's are inline)
    assert page.locator(".jp-OutputArea-output img, .jp-OutputArea-output svg").count() >= 4

    assert_step(page, history, 0)
    start = expected(history, 0)
    handle = page.locator(".widget-slider .noUi-handle").first
    handle.click()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert_step(page, history, 3)
    assert expected(history, 3)["count"] != start["count"]  # the history says the count fell, and it shows
    page.keyboard.press("ArrowLeft")
    assert_step(page, history, 2)

    page.locator(".widget-play button").first.click()  # Play: the slider follows through jslink
    page.wait_for_function(
        "e => { const m = e.innerText.match(/step (\\d+) of/); return m && Number(m[1]) >= 6; }",
        arg=stepper_view(page).element_handle(), timeout=60_000,
    )
    page.locator(".widget-play button").first.click()  # the same button pauses
    page.wait_for_timeout(1500)
    paused = shown(page)["step"]
    assert paused >= 6
    assert_step(page, history, paused)  # what the slider's new value shows is that step of the history

    # The step after a node decision that drops edges: the node red, its dropped edges faded and dotted.
    after, d = next((i, d) for i, d in enumerate(history.decisions, start=1)
                    if d.kind == "node" and len(history.space.incoming(d.node)) > history.space.k)
    move_slider(page, 0, after, paused)
    assert_step(page, history, after)
    view = in_view(page, stepper_view(page))
    cell = view.locator(f".sdas-cell[data-cell-type='{d.cell_type}'] svg")
    n_dropped = len(history.space.incoming(d.node)) - history.space.k
    assert cell.locator("text", has_text="dropped").count() == n_dropped
    assert cell.locator("g.edge path[stroke-dasharray][stroke='#b3b3b3']").count() == n_dropped  # gray70, dotted
    assert cell.locator("g.node polygon[stroke='red'], g.node path[stroke='red']").count() == 1

    # DAS beside SDAS-C on one iteration axis: each side at the decisions made by t.
    das = load_history(history_dir.parent / "search-das-s0")
    t = max(1, history.T // 2)
    compare = in_view(page, page.locator(".sdas-compare-t"))
    assert "iteration t = 0 of" in compare.inner_text()
    move_slider(page, 1, t, 0)
    page.wait_for_function(  # the view's HTML is replaced at each t: query it afresh
        "t => document.querySelector('.sdas-compare-t').innerText.includes(`t = ${t} of`)", arg=t, timeout=30_000
    )
    # the stepper and the two sides, then the planted-cell stepper further down once JupyterLab renders it
    assert page.locator(".widget-html-content:has-text('valid architectures left')").count() in (3, 4)
    for k, h in ((1, das), (2, history)):
        made = sum(x.iteration <= t for x in h.decisions)
        assert f"step {made} of {len(h.decisions)}" in in_view(page, stepper_view(page, k)).inner_text(), (k, t)
    assert [t.text_content() for t in page.locator(".sdas-side-title").all()] == ["DAS seed 0", "SDAS-C seed 0"]
    in_view(page, stepper_view(page))

    shot = root / "stepper.png"
    page.locator(".widget-play").first.scroll_into_view_if_needed()
    page.mouse.wheel(0, -60)  # the cell's top edge in view too
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if target := os.environ.get("SDAS_STEPPER_SCREENSHOT"):
        shutil.copyfile(shot, target)
    page.close()


def test_notebook_01_shows_its_figures_in_jupyterlab(lab):
    root, url, browser, _ = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    open_and_run_all(page, url.format(path="01_continuous_relaxation.ipynb"), root / "failure-01.png")
    cells = [c for c in json.loads((root / "01_continuous_relaxation.ipynb").read_text())["cells"] if c["cell_type"] == "code"]
    plotting = [k for k, c in enumerate(cells) if PLOTTING.search("".join(c["source"]))]
    assert plotting, "notebook 01 has no plotting cell"
    code_cells = page.locator(".jp-CodeCell")
    assert code_cells.count() == len(cells)
    for k in plotting:
        outputs = code_cells.nth(k).locator(".jp-OutputArea-output img, .jp-OutputArea-output svg")
        assert outputs.count() >= 1, f"code cell {k} of notebook 01 shows no figure"
    assert page.locator(".jp-OutputArea-output:has-text('Traceback')").count() == 0
    page.close()


# The main figures of the notebooks that run the sweeps, by the library call that draws them.
MAIN_FIGURES = {
    "02_search_space_reduction": ("plots.plot_counts",),
    "03_schedules": ("plots.plot_schedules", "plots.plot_cost_model"),
    "04_cifar10_search": ("plots.plot_relaxed_vs_discrete", "plots.plot_confusion_matrix", "plots.plot_accuracy_vs_params"),
    "05_kinetics10_video_search": ("plots.plot_clips", "plots.plot_accuracy_vs_params"),
}
RENDERED = "els => els.filter(e => e.complete && e.naturalWidth > 50 && e.naturalHeight > 50).length"


def open_notebook(page, url: str) -> None:
    """Open a notebook in JupyterLab and wait for its cells, without running anything."""
    page.goto(url)
    page.locator(".jp-NotebookPanel:visible .jp-Notebook").wait_for(timeout=120_000)
    page.locator(".jp-NotebookPanel:visible .jp-CodeCell").first.wait_for(timeout=120_000)
    dismiss_popups(page)


def test_the_executed_course_shows_its_main_figures(lab, course_smoke):
    root, url, browser, _ = lab
    _, _, rows = course_smoke
    executed = {r["notebook"]: r["output"] for r in rows}
    for name, calls in MAIN_FIGURES.items():
        target = root / f"executed-{name}.ipynb"
        shutil.copyfile(executed[name], target)
        cells = [c for c in json.loads(target.read_text())["cells"] if c["cell_type"] == "code"]
        drawing = [k for k, c in enumerate(cells) if any(call in "".join(c["source"]) for call in calls)]
        assert len(drawing) >= len(calls), f"{name}: the cells drawing {calls} are not all there"
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        open_notebook(page, url.format(path=target.name))
        code_cells = page.locator(".jp-CodeCell")
        page.wait_for_function("n => document.querySelectorAll('.jp-CodeCell').length >= n", arg=len(cells), timeout=60_000)
        assert code_cells.count() == len(cells)
        for k in drawing:
            cell = code_cells.nth(k)
            cell.scroll_into_view_if_needed()
            images = cell.locator(".jp-OutputArea-output img")
            try:
                images.first.wait_for(timeout=30_000)
            except Exception:
                raise AssertionError(f"{name}: code cell {k} ({calls}) shows no picture in JupyterLab") from None
            page.wait_for_function(f"els => ({RENDERED})(els) >= 1", arg=images.element_handles(), timeout=30_000)
            assert "Figure size" not in cell.locator(".jp-OutputArea").inner_text(), f"{name} cell {k}"
        page.close()
