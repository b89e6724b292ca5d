"""The page's static files keep to the Content-Security-Policy and to the selectors the
browser tests use: no inline script, style or handler; no external resource; ids there."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib import resources

STATIC = resources.files("rnnlab.serve") / "static"


def _text(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text = ""
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text += data


def _parsed() -> _Tags:
    parser = _Tags()
    parser.feed(_text("index.html"))
    return parser


def test_the_three_files_are_there() -> None:
    for name in ("index.html", "app.js", "style.css"):
        assert (STATIC / name).is_file(), name


def test_no_inline_code_or_style() -> None:
    page = _parsed()
    assert not page.script_text.strip(), "inline <script> is blocked by the CSP"
    for tag, attrs in page.tags:
        assert "style" not in attrs, f"<{tag} style=...> is blocked by the CSP"
        assert not [a for a in attrs if a.startswith("on")], f"<{tag} on...=> is blocked by the CSP"
        assert tag != "style", "a <style> element is blocked by the CSP"
        if tag == "script":
            assert attrs.get("src", "").startswith("/static/")


def test_nothing_from_elsewhere() -> None:
    for name in ("index.html", "app.js", "style.css"):
        text = _text(name)
        assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", text), name
        assert "@import" not in text and "url(http" not in text, name
    js = _text("app.js")
    assert "innerHTML" not in js and "eval(" not in js and "new Function" not in js


def test_the_selectors_of_the_browser_tests() -> None:
    ids = {attrs.get("id") for _, attrs in _parsed().tags}
    wanted = {
        "parity-input",
        "parity-step-forward",
        "parity-step-back",
        "parity-play",
        "parity-reset",
        "parity-model",
        "parity-step",
        "dense-output",
        "reverse-input",
        "beam-size",
    }
    assert wanted <= ids, wanted - ids
    js = _text("app.js")
    for needle in (
        '"data-op"',
        '"clamp-pos"',
        '"clamp-neg"',
        '"flip"',
        '"zero"',
        "changed",
        "evenness",
        '"truth"',
        "heatmap",
        "dataset.ready",
        '"output"',
    ):
        assert needle in js, needle
