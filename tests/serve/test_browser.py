"""The lab's page in a real browser: headless Chromium (Debian's package) driven by
Playwright through ``executable_path``. Skipped where no chromium is installed, except
on CI (``CI`` set), where a missing browser fails: ``make test`` installs it there."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("RNNLAB_CHROMIUM") or shutil.which("chromium") or ""
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM:
        message = "no chromium (apt-get install chromium, or set RNNLAB_CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: {message}")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, serve_process, trained_dir: Path, tmp_path: Path) -> Iterator[object]:
    _, url = serve_process("--lab", str(trained_dir), "--no-train")
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    pg = context.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    # a 4xx answer shown on the page (the dense net's 413) is logged by the browser as a
    # failed resource load: expected; any other console error is a problem
    pg.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text
            else None
        ),
    )
    pg.goto(url)
    pg.wait_for_selector("body[data-ready='1']", timeout=30_000)
    pg.problems = problems
    yield pg
    pg.screenshot(path=str(tmp_path / "last.png"), full_page=True)
    context.close()
    assert not problems, problems


def running_evenness(bits: list[int]) -> list[str]:
    out, s = [], 0
    for b in bits:
        s += b
        out.append(str(1 - s % 2))
    return out


def type_bits(pg, model: str, text: str) -> None:
    """Choose a network, type an input, wait for its answer, go back to the first step."""

    def answered(r) -> bool:
        return r.url.endswith(f"/api/models/{model}/probe") and r.ok

    if pg.input_value("#parity-model") != model:
        with pg.expect_response(answered):
            pg.select_option("#parity-model", model)
    if pg.input_value("#parity-input") != text:
        with pg.expect_response(answered):
            pg.fill("#parity-input", text)
            pg.press("#parity-input", "Enter")
    pg.click("#parity-reset")
    wait_step(pg, 1, len(text.split()))


def wait_step(pg, shown_step: int, n: int) -> None:
    """Wait until the page shows step ``shown_step`` (1-based) of ``n``."""
    pg.wait_for_function(
        "want => document.querySelector('#parity-step').textContent.replace(/\\s+/g, ' ')"
        ".trim().endsWith(want)",
        arg=f"{shown_step} / {n}",
        timeout=15_000,
    )


def shown(pg, t: int) -> str:
    return pg.locator(f"#parity-unrolled [data-step='{t}'] .evenness").inner_text().strip()


def test_parity_step_by_step(page, tmp_path: Path) -> None:
    pg = page
    bits = [0, 1, 1, 0, 1]
    want = running_evenness(bits)
    for model in ("parity-rnn", "parity-handset"):
        type_bits(pg, model, "0 1 1 0 1")
        for t in range(len(bits)):
            if t:
                pg.click("#parity-step-forward")
                wait_step(pg, t + 1, len(bits))
            assert shown(pg, t) == want[t], (model, t)
            truth = pg.locator(f"#parity-unrolled [data-step='{t}'] .truth").inner_text()
            assert want[t] in truth
            ahead = pg.locator(f"#parity-unrolled .col[data-step='{t + 1}']:visible")
            assert ahead.count() == 0  # not read yet: not drawn
        other = pg.locator("#other-output .answers").inner_text().strip()
        assert other == " ".join(want)  # the other RNN beside it, on the same input
        pg.screenshot(path=str(tmp_path / f"parity-{model}.png"), full_page=True)
        pg.click("#parity-step-back")
        wait_step(pg, 4, len(bits))
    assert "1" in pg.locator("#dense-output").inner_text()


def test_clamping_a_unit_updates_the_outputs(page, tmp_path: Path) -> None:
    """The hand-set RNN after "0 1" holds (h1, h2) = (+1, -1): odd. Clamping unit 0 to -1
    there makes it believe the sum is even: its answers flip from step 1 on."""
    pg = page
    type_bits(pg, "parity-handset", "0 1 1 0 1")
    for t in range(1, 5):
        pg.click("#parity-step-forward")
        wait_step(pg, t + 1, 5)
    pg.click("#parity-unrolled .unit[data-step='1'][data-unit='0']")
    pg.click("button[data-op='clamp-neg']")
    pg.wait_for_selector("#parity-unrolled .col.changed[data-step='1']", timeout=15_000)
    assert [shown(pg, t) for t in range(5)] == ["1", "1", "0", "0", "1"]
    changed = pg.locator("#parity-unrolled .col.changed")
    assert sorted(int(c.get_attribute("data-step")) for c in changed.all()) == [1, 2, 3, 4]
    pg.screenshot(path=str(tmp_path / "clamped.png"), full_page=True)


def test_reversal(page, tmp_path: Path) -> None:
    pg = page
    pg.fill("#reverse-input", "3 1 4")
    card = pg.locator("[data-model='reverse-attention']")
    pg.wait_for_function(
        "([sel, want]) => document.querySelector(sel)?.textContent.trim() === want",
        arg=["[data-model='reverse-attention'] .output", "4 1 3"],
        timeout=15_000,
    )
    assert card.locator(".heatmap").count() == 1
    assert pg.locator("[data-model='reverse-seq2seq'] .output").inner_text().strip()
    pg.locator("#reverse-input").scroll_into_view_if_needed()
    pg.screenshot(path=str(tmp_path / "reverse.png"), full_page=True)
