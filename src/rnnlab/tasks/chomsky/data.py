"""The length-generalization tasks of Deletang et al., "Neural Networks and the Chomsky
Hierarchy" (ICLR 2023), as seeded batch generators.

Every task maps an input string of ``n`` symbols to an output string of
``output_length(n)`` symbols (1 for the classification tasks). Symbols are integer ids,
``0..input_size-1`` in, ``0..output_size-1`` out. A batch holds ``B`` strings of ONE length
(as in the paper), drawn from a ``torch.Generator``, so a (seed, step) pair always gives
the same batch. The binary string tasks use the alphabet {0, 1}, as in the paper.

One example of each (input -> output):

=================== ======= ======================= ========================================
task                level   input                   output
=================== ======= ======================= ========================================
parity_check        regular 1 0 1 1                 1        (three 1s: odd)
even_pairs          regular 0 0 1 1 1 0             0        (01 and 10 once each: even)
modular_arithmetic  regular 1 + 2 * 3 = [1 5 2 7 3] 2        ((1 + 6) mod 5, * before + and -)
cycle_navigation    regular 2 0 1 0 0 = [R L S L L] 3        (+1 -1 0 -1 -1 = -2 = 3 mod 5)
reverse_string      dcf     0 1 1 0 1 0             0 1 0 1 1 0
duplicate_string    cs      1 0 1                   1 0 1 1 0 1
bucket_sort         cs      1 0 2 0 4 1 1 2         0 0 1 1 1 2 2 4  (alphabet 0..4)
=================== ======= ======================= ========================================

Encodings: modular arithmetic alternates numbers ``0..4`` (ids 0..4) and operators
``+ - *`` (ids 5, 6, 7), always with an odd length (an even length ``n`` gives ``n - 1``
symbols, as in the paper); it is evaluated with the usual precedence (``*`` first) mod 5.
Cycle navigation's actions are ids 0 (step left, -1), 1 (stay), 2 (step right, +1) on a
cycle of 5 positions, starting at 0; the output is the final position.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

MODULUS = 5  # modular arithmetic's modulus and cycle navigation's cycle length
SORT_ALPHABET = 5  # bucket sort's alphabet size
PLUS, MINUS, TIMES = MODULUS, MODULUS + 1, MODULUS + 2  # operator ids in modular arithmetic


def parity_check(x: torch.Tensor) -> torch.Tensor:
    """(B, n) bits -> (B, 1): the number of 1s mod 2."""
    return (x.sum(dim=1, keepdim=True) % 2).long()


def even_pairs(x: torch.Tensor) -> torch.Tensor:
    """(B, n) bits -> (B, 1): the number of unequal neighbours (01 or 10) mod 2."""
    unequal = (x[:, 1:] != x[:, :-1]).long()  # (B, n - 1)
    return unequal.sum(dim=1, keepdim=True) % 2


def modular_arithmetic(x: torch.Tensor) -> torch.Tensor:
    """(B, n) expressions, n odd -> (B, 1): their value mod 5, ``*`` binding tighter.

    Left to right, keeping the sum of the finished terms and the current term (a product,
    with the sign of the operator that opened it).
    """
    if x.shape[1] % 2 != 1:
        raise ValueError(f"modular arithmetic expressions have odd length, got {x.shape[1]}")
    total = torch.zeros_like(x[:, 0])  # (B,)
    term = x[:, 0].clone()  # (B,)
    for k in range(1, x.shape[1], 2):
        op, num = x[:, k], x[:, k + 1]  # (B,), (B,)
        times = op == TIMES
        total = torch.where(times, total, (total + term) % MODULUS)
        opened = torch.where(op == MINUS, (-num) % MODULUS, num)
        term = torch.where(times, (term * num) % MODULUS, opened)
    return ((total + term) % MODULUS).unsqueeze(1)  # (B,) -> (B, 1)


def cycle_navigation(x: torch.Tensor) -> torch.Tensor:
    """(B, n) actions in {0: left, 1: stay, 2: right} -> (B, 1): final position mod 5."""
    return ((x - 1).sum(dim=1, keepdim=True) % MODULUS).long()


def reverse_string(x: torch.Tensor) -> torch.Tensor:
    """(B, n) -> (B, n): the string backwards."""
    return x.flip(1)


def duplicate_string(x: torch.Tensor) -> torch.Tensor:
    """(B, n) -> (B, 2n): the string twice, no separator."""
    return torch.cat([x, x], dim=1)


def bucket_sort(x: torch.Tensor) -> torch.Tensor:
    """(B, n) -> (B, n): the symbols in increasing order."""
    return x.sort(dim=1).values


def _uniform(alphabet: int) -> Callable[[int, int, torch.Generator], torch.Tensor]:
    def sample(batch: int, length: int, gen: torch.Generator) -> torch.Tensor:
        return torch.randint(0, alphabet, (batch, length), generator=gen)  # (B, n)

    return sample


def _expressions(batch: int, length: int, gen: torch.Generator) -> torch.Tensor:
    """Random numbers at even positions, random operators at odd ones; odd length."""
    n = length if length % 2 == 1 else length - 1
    x = torch.empty(batch, n, dtype=torch.long)  # (B, n)
    x[:, 0::2] = torch.randint(0, MODULUS, (batch, n // 2 + 1), generator=gen)
    x[:, 1::2] = torch.randint(PLUS, TIMES + 1, (batch, n // 2), generator=gen)
    return x


@dataclass(frozen=True)
class Task:
    """One task: its alphabets, how inputs are drawn and how outputs are computed."""

    name: str
    level: str  # regular | dcf (deterministic context-free) | cs (context-sensitive)
    input_size: int  # input symbols 0..input_size-1
    output_size: int  # output classes 0..output_size-1
    label: Callable[[torch.Tensor], torch.Tensor]  # (B, n) -> (B, output_length(n))
    draw: Callable[[int, int, torch.Generator], torch.Tensor]  # (batch, n, gen) -> (B, n')
    output_factor: int = 0  # output length = factor * n, or 1 when 0 (classification)

    def output_length(self, n: int) -> int:
        return self.output_factor * n if self.output_factor else 1

    def input_length(self, n: int) -> int:
        """The length a batch asked for ``n`` really has (modular arithmetic: odd)."""
        return n - 1 if self.name == "modular_arithmetic" and n % 2 == 0 else n

    def sample(
        self, batch: int, length: int, gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``batch`` strings of ``length`` (see ``input_length``): inputs (B, n) and
        targets (B, output_length(n)), both int64."""
        if length < 1:
            raise ValueError(f"{self.name}: strings need at least one symbol, got {length}")
        x = self.draw(batch, length, gen)  # (B, n)
        return x, self.label(x)


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task("parity_check", "regular", 2, 2, parity_check, _uniform(2)),
        Task("even_pairs", "regular", 2, 2, even_pairs, _uniform(2)),
        Task(
            "modular_arithmetic", "regular", MODULUS + 3, MODULUS, modular_arithmetic, _expressions
        ),
        Task("cycle_navigation", "regular", 3, MODULUS, cycle_navigation, _uniform(3)),
        Task("reverse_string", "dcf", 2, 2, reverse_string, _uniform(2), output_factor=1),
        Task("duplicate_string", "cs", 2, 2, duplicate_string, _uniform(2), output_factor=2),
        Task(
            "bucket_sort",
            "cs",
            SORT_ALPHABET,
            SORT_ALPHABET,
            bucket_sort,
            _uniform(SORT_ALPHABET),
            1,
        ),
    )
}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; expected one of {', '.join(TASKS)}")
    return TASKS[name]
