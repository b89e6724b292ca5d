"""The page's static files keep to the Content-Security-Policy and to the selectors the
browser tests use: no inline script, style or handler; no external resource; ids there.
The script is native ES modules: index.html loads app.js, which imports the others from
the same folder by relative name; every .js file of the folder is checked."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib import resources

STATIC = resources.files("rnnlab.serve") / "static"


def _text(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def _scripts() -> dict[str, str]:
    """Every module of the page, by name."""
    return {
        f.name: f.read_text(encoding="utf-8") for f in STATIC.iterdir() if f.name.endswith(".js")
    }


# a static import or re-export (group 1: the module), a bare import (group 2), a dynamic one
IMPORT = re.compile(
    r"^[ \t]*(?:import|export)\s*(?:[\w$*\s,]*\{[^}]*\}|[\w$*\s,]+?)\s*from\s*[\"']([^\"']*)[\"']"
    r"|^[ \t]*import\s*[\"']([^\"']*)[\"']|\bimport\s*\(",
    re.M,
)


def _imports(name: str, text: str) -> list[str]:
    """The modules ``name`` imports, by file name; each must be ``./NAME.js``."""
    out = []
    for m in IMPORT.finditer(text):
        target = m.group(1) or m.group(2)
        assert target is not None, f"{name}: no dynamic import()"
        assert re.fullmatch(r"\./[\w.-]+\.js", target), f"{name}: {target!r} is not ./NAME.js"
        out.append(target[2:])
    assert not re.search(r"\bimport\b", IMPORT.sub("", text)), f"{name}: an import not understood"
    return out


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
    assert set(_scripts()) >= {"app.js", "dom.js"}


def test_no_inline_code_or_style() -> None:
    page = _parsed()
    assert not page.script_text.strip(), "inline <script> is blocked by the CSP"
    for tag, attrs in page.tags:
        assert "style" not in attrs, f"<{tag} style=...> is blocked by the CSP"
        assert not [a for a in attrs if a.startswith("on")], f"<{tag} on...=> is blocked by the CSP"
        assert tag != "style", "a <style> element is blocked by the CSP"
        if tag == "script":
            assert attrs.get("src", "").startswith("/static/")


def test_the_page_loads_app_js_as_a_module() -> None:
    scripts = [attrs for tag, attrs in _parsed().tags if tag == "script"]
    assert scripts == [{"type": "module", "src": "/static/app.js"}], scripts


def test_the_modules_import_only_each_other() -> None:
    """From app.js every module is reached; none imports app.js; no cycle."""
    scripts = _scripts()
    graph = {name: _imports(name, text) for name, text in scripts.items()}
    assert "app.js" in graph and len(graph) > 1
    for name, targets in graph.items():
        assert set(targets) <= set(graph), f"{name} imports {set(targets) - set(graph)}: not there"
        assert "app.js" not in targets, f"{name} imports app.js, the entry point"
    reached, todo = set(), ["app.js"]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo += graph[name]
    assert reached == set(graph), f"never imported: {set(graph) - reached}"
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"an import cycle: {' -> '.join((*path, name))}"
        if name not in done:
            for target in graph[name]:
                visit(target, (*path, name))
            done.add(name)

    visit("app.js", ())


def test_the_modules_are_served_as_javascript() -> None:
    from rnnlab.serve.app import _static_files

    files = _static_files()
    for name in _scripts():
        assert files[name][1].split(";")[0] == "text/javascript", name
    assert files["style.css"][1].startswith("text/css")
    assert files["index.html"][1].startswith("text/html")


def test_nothing_from_elsewhere() -> None:
    scripts = _scripts()
    for name, text in {
        "index.html": _text("index.html"),
        "style.css": _text("style.css"),
        **scripts,
    }.items():
        assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", text), name
        assert "@import" not in text and "url(http" not in text, name
    for name, js in scripts.items():
        assert "innerHTML" not in js and "eval(" not in js and "new Function" not in js, name
        assert (
            "http://" not in js.replace('"http://www.w3.org/2000/svg"', "") and "https://" not in js
        ), name


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
    js = "\n".join(_scripts().values())
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
