"""Models for the length-generalization tasks, all with one interface (``TaskModel``).

**The paper's setup** (``TapeRNN``: RNN, GRU, LSTM). The network reads one tape: the input
string, then one *blank* symbol per output position, and its outputs at the last
``output_length`` positions are the answer (Deletang et al. 2023)::

    reverse_string, input 0 1 1:   tape    0  1  1  _  _  _
                                   read                y1 y2 y3   (y = 1 1 0)

Symbols enter as one-hot vectors (input_size + 1 wide: the blank has its own unit); the
readout is ``Linear(relu(h_t))``. ``init="paper"`` (the default) starts from the paper's
initial parameters, Haiku's defaults: every weight matrix truncated-normal with standard
deviation 1/sqrt(fan_in) (the LSTM's fan-in is input + hidden: Haiku runs one linear map
on ``[x, h]``), biases zero, and the LSTM's forget gate biased by +1. The recurrent
matrix then has a spectral radius near 1; PyTorch's default (``init="torch"``,
uniform in +-1/sqrt(H)) gives about 0.58, so a signal fades by 0.58^40 over a training
string and a tanh RNN never finds parity (measured: chance after 10,000 steps; the
paper's init: 100% at lengths 41..100 after 5,000).

**Encoder/decoders** (``LectureSeq2Seq``): the lecture's ``rnnlab.nn.seq2seq.Seq2Seq`` run on
these tasks, with any of its attentions (``none``, content: ``additive``, ``general``, or
NTM-style ``location``, whose decoder is fed its last read). The encoder reads the
input; the decoder emits exactly ``output_length`` symbols, fed its previous symbol
(teacher forcing in training, its own greedy choice at test: ``rnnlab.nn.decoding.greedy``
with a fixed length). The vocabulary is shared: ``pad=0, bos=1, eos=2``, then the task's
symbols (input id ``i`` is token ``3 + i``, output class ``c`` is token ``3 + c``); the
logits are read over the output classes only. ``eos`` is never needed: the output length
is given, as it is to the tape models.

Every model has ``train_logits(src, tgt)`` (a batch of one length: ``(B, n)``,
``(B, m)`` -> ``(B, m, C)``), ``loss`` (mean cross-entropy per output position) and
``predict(src, src_len, out_len)`` for right-padded batches of mixed lengths.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.nn import layers
from rnnlab.nn.decoding import greedy
from rnnlab.nn.seq2seq import Seq2Seq, StepState

PAD, BOS, EOS, OFFSET = 0, 1, 2, 3  # seq2seq vocabulary: specials, then task symbols
INITS = ("paper", "torch")  # TapeRNN's initial parameters: Haiku's defaults, or PyTorch's


class TaskModel(nn.Module):
    """What every model offers the benchmark."""

    output_size: int

    def train_logits(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, m, C)`` for inputs ``(B, n)`` and targets ``(B, m)`` (one length)."""
        raise NotImplementedError

    def loss(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        logits = self.train_logits(src, tgt)  # (B, m, C)
        return F.cross_entropy(logits.reshape(-1, self.output_size), tgt.reshape(-1))

    def predict(
        self, src: torch.Tensor, src_len: torch.Tensor, out_len: torch.Tensor
    ) -> torch.Tensor:
        """Predicted classes ``(B, max(out_len))`` for right-padded inputs ``(B, S)``;
        positions past a sequence's own ``out_len`` are undefined."""
        raise NotImplementedError


def build_tape(
    src: torch.Tensor, src_len: torch.Tensor, out_len: torch.Tensor, blank: int, pad: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Input, then ``out_len`` blanks, then ``pad`` up to the longest: ``(B, T)`` and the
    tape lengths ``(B,)``."""
    total = src_len + out_len  # (B,)
    t = int(total.max())
    pos = torch.arange(t, device=src.device).unsqueeze(0)  # (1, T)
    wide = F.pad(src, (0, max(0, t - src.shape[1])), value=pad)[:, :t]  # (B, S) -> (B, T)
    after = torch.where(pos < total.unsqueeze(1), blank, pad)  # (B, T)
    return torch.where(pos < src_len.unsqueeze(1), wide, after), total


class TapeRNN(TaskModel):
    """RNN / GRU / LSTM reading input + blanks, answering at the last positions."""

    def __init__(
        self,
        cell: str,
        input_size: int,
        output_size: int,
        hidden: int,
        backend: str = "fused",
        init: str = "paper",
    ) -> None:
        super().__init__()
        if init not in INITS:
            raise ValueError(f"init expects one of {', '.join(INITS)}, got {init!r}")
        self.input_size, self.output_size = input_size, output_size
        self.blank, self.pad = input_size, input_size + 1  # pad's one-hot is all zeros
        self.rnn = layers.make_rnn(cell, input_size + 1, hidden, backend=backend)
        self.readout = nn.Linear(hidden, output_size)
        if init == "paper":
            self._paper_init(cell)

    @torch.no_grad()
    def _paper_init(self, cell: str) -> None:
        """Haiku's defaults, as the paper's models start (see the module docstring)."""
        for name, p in self.named_parameters():
            if "bias" in name:
                p.zero_()
                continue
            fan_in = p.shape[1]
            if cell == "lstm" and name.startswith("rnn."):
                fan_in = self.rnn.input_size + self.rnn.hidden_size  # one map on [x, h]
            std = fan_in**-0.5
            nn.init.trunc_normal_(p, std=std, a=-2 * std, b=2 * std)
        if cell == "lstm":
            h = self.rnn.hidden_size
            bias = self.rnn.get_parameter("bias_ih_l0")  # gates i, f, g, o
            bias[h : 2 * h] = 1.0  # the forget gate's +1

    def _logits(
        self, src: torch.Tensor, src_len: torch.Tensor, out_len: torch.Tensor
    ) -> torch.Tensor:
        tape, total = build_tape(src, src_len, out_len, self.blank, self.pad)  # (B, T), (B,)
        x = F.one_hot(tape, self.input_size + 2)[..., : self.input_size + 1].float()  # (B,T,I+1)
        ragged = bool((total != total[0]).any())
        out, _ = self.rnn(x, lengths=total if ragged else None)  # (B, T, H)
        m = int(out_len.max())
        idx = src_len.unsqueeze(1) + torch.arange(m, device=src.device)  # (B, m)
        idx = idx.clamp(max=out.shape[1] - 1)
        read = out.gather(1, idx.unsqueeze(-1).expand(-1, -1, out.shape[-1]))  # (B, m, H)
        return self.readout(torch.relu(read))  # (B, m, C)

    def train_logits(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        b, n = src.shape
        src_len = torch.full((b,), n, dtype=torch.long, device=src.device)  # (B,)
        out_len = torch.full((b,), tgt.shape[1], dtype=torch.long, device=src.device)  # (B,)
        return self._logits(src, src_len, out_len)

    def predict(
        self, src: torch.Tensor, src_len: torch.Tensor, out_len: torch.Tensor
    ) -> torch.Tensor:
        return self._logits(src, src_len, out_len).argmax(dim=-1)  # (B, m)


class LectureSeq2Seq(TaskModel):
    """The lecture's encoder/decoder (``rnnlab.nn.seq2seq.Seq2Seq``) on a task.

    ``options`` go to ``Seq2Seq`` as they are (``attention``, ``hidden``, ``cell``,
    ``input_feeding``, ``backend``, ...); only the embedding size has a default of its own.
    """

    classes: torch.Tensor

    def __init__(
        self, input_size: int, output_size: int, *, embed: int = 16, **options: Any
    ) -> None:
        super().__init__()
        self.output_size = output_size
        vocab = OFFSET + max(input_size, output_size)
        self.net = Seq2Seq(vocab, PAD, BOS, EOS, embed=embed, **options)
        classes = torch.zeros(vocab, dtype=torch.bool)  # (V,): the output classes' tokens
        classes[OFFSET : OFFSET + output_size] = True
        self.register_buffer("classes", classes, persistent=False)

    def _classes(self, logits: torch.Tensor) -> torch.Tensor:
        return logits[..., OFFSET : OFFSET + self.output_size]  # (..., V) -> (..., C)

    def train_logits(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        b, n = src.shape
        src_len = torch.full((b,), n, dtype=torch.long, device=src.device)  # (B,)
        bos = torch.full((b, 1), BOS, dtype=torch.long, device=src.device)  # (B, 1)
        tgt_in = torch.cat([bos, tgt[:, :-1] + OFFSET], dim=1)  # (B, m)
        logits, _ = self.net(src + OFFSET, src_len, tgt_in)  # (B, m, V)
        return self._classes(logits)

    def step(self, tokens: torch.Tensor, st: StepState) -> tuple[torch.Tensor, StepState]:
        """The decoder's step with every token but the output classes at -inf."""
        logits, st = self.net.step(tokens, st)  # (B, V)
        return logits.masked_fill(~self.classes, float("-inf")), st

    @torch.no_grad()
    def predict(
        self, src: torch.Tensor, src_len: torch.Tensor, out_len: torch.Tensor
    ) -> torch.Tensor:
        pos = torch.arange(src.shape[1], device=src.device).unsqueeze(0)  # (1, S)
        tokens = torch.where(pos < src_len.unsqueeze(1), src + OFFSET, PAD)  # (B, S)
        st = self.net.start(tokens, src_len)
        out = greedy(self.step, st, BOS, None, src.shape[0], int(out_len.max()))
        return out.tokens - OFFSET  # (B, m)
