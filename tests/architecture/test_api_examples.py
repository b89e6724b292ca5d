"""Every ```python block of docs/api.md runs, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", API.read_text(encoding="utf-8"), re.S)


def test_there_is_an_example_per_building_block():
    text = "\n".join(blocks())
    for name in ("LSTMCell", "GRU", "Seq2Seq", "CRF", "fit", "get_task"):
        assert name in text, name


def test_api_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    torch.manual_seed(0)
    namespace: dict[str, object] = {}
    for i, code in enumerate(blocks()):
        exec(compile(code, f"{API.name} block {i + 1}", "exec"), namespace)
