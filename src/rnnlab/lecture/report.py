"""The lecture's report: one self-contained HTML page with every figure embedded."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from rnnlab.lecture.common import Claim, Experiment

INTRO = """A recurrent network is one small network reused at every time step: it reads
x_t and its own previous state h_(t-1) and writes a new state h_t. Rolled up it is a cell
with a loop; unrolled it is a deep network whose layers share their weights. This page
replays the lecture's claims on your own CPU, measures each one and shows what the
networks do: a dense network fails at parity where an RNN that carries the running
'evenness' succeeds; a synchronous RNN fails at reversing a sequence where an
encoder/decoder succeeds from the encoder's final state alone; and attention does better
still, looking exactly where the lecture says it should."""

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1000px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.5}
h1{margin-bottom:.2em} .sub{color:#666;margin-top:0}
table{border-collapse:collapse;width:100%;font-size:.92em;margin:1em 0}
th,td{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#0a7a28;font-weight:600} .fail{color:#b00020;font-weight:600}
section{border-top:2px solid #eee;margin-top:2em;padding-top:.5em}
figure{margin:1em 0} figure img{max-width:100%;border:1px solid #eee}
figcaption{color:#666;font-size:.85em}
"""


def fmt(value: float) -> str:
    if value == int(value) and abs(value) >= 1:
        return f"{int(value)}"
    return f"{value:.4g}"


def _verdict(c: Claim) -> str:
    return '<span class="pass">pass</span>' if c.passed else '<span class="fail">FAIL</span>'


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return (
        f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(path.name)}</figcaption></figure>"
    )


def write_report(
    path: Path, experiments: list[Experiment], seconds: float, quick: bool, seed: int
) -> None:
    claims = [c for e in experiments for c in e.claims]
    passed = sum(c.passed for c in claims)
    rows = "".join(
        f"<tr><td><code>{html.escape(c.id)}</code></td><td>{html.escape(c.claim)}</td>"
        f"<td>{html.escape(c.metric)}</td><td class=num>{fmt(c.value)}</td>"
        f"<td class=num>{html.escape(c.op)} {fmt(c.threshold)}</td><td>{_verdict(c)}</td></tr>"
        for c in claims
    )
    sections = []
    for e in experiments:
        paras = "".join(f"<p>{html.escape(p.strip())}</p>" for p in e.text.split("\n\n") if p)
        figs = "".join(_img(f) for f in e.figures if f.is_file())
        sections.append(
            f'<section id="{html.escape(e.id)}"><h2>{html.escape(e.title)}</h2>'
            f'<p class="sub"><code>{html.escape(e.id)}</code> · {e.seconds:.1f} s</p>'
            f"{paras}{figs}</section>"
        )
    mode = "quick" if quick else "full"
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>rnnlab lecture</title><style>{STYLE}</style></head><body>
<h1>Recurrent networks, the lecture replayed</h1>
<p class="sub">{passed} of {len(claims)} claims hold · {mode} run · seed {seed} ·
{seconds:.0f} s</p>
<p>{html.escape(" ".join(INTRO.split()))}</p>
<table><tr><th>id</th><th>claim</th><th>measured</th><th>value</th><th>threshold</th>
<th>verdict</th></tr>{rows}</table>
{"".join(sections)}
</body></html>"""
    path.write_text(page, encoding="utf-8")
