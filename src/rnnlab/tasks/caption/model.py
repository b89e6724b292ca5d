"""The captioner: a small CNN reads the image, a GRU/LSTM writes the caption.

One-to-many: a single input (the image) and a sequence out. The encoder turns a
``(B, 3, S, S)`` image into a grid of ``N = (S / 2**k)**2`` feature vectors ``(B, N, C)``
(k = number of conv blocks, each halving the side). Their mean sets the decoder's first
state, ``h_0 = tanh(W mean(grid))``; from there the decoder is a language model whose
first word is ``<s>`` and which stops at ``</s>``.

With ``attention`` ("show, attend and tell", Xu et al. 2015) the decoder also looks back
at the grid at every step: the previous state scores each cell (additive attention,
``rnnlab.nn.attention.AdditiveAttention``: ``v . tanh(W h_{t-1} + U f_i)``), the softmax
of the scores weights the cells, and the weighted mean of the grid (the *context*) is fed
in beside the word and used again to predict the next word. (Run folders name these
weights ``att_state`` (W), ``att_feat`` (U) and ``att_v`` (v), as before the attention
moved to ``rnnlab.nn``: ``state_dict`` writes and ``load_state_dict`` reads those
names.) Two coordinate channels (x, y in [-1, 1]) are added to the image so that the grid
cells know where they are ("left of", "above").

Without attention the decoder is one ``rnnlab.nn.layers`` GRU/LSTM run over the whole
caption (``backend`` "fused" for speed); with it the loop is written out step by step
with ``rnnlab.nn.cells``, since every step needs the state of the one before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from rnnlab.nn import cells, layers
from rnnlab.nn.attention import AdditiveAttention
from rnnlab.nn.layers import BACKENDS
from rnnlab.training.config import RangeChecked, ranged

# Run-folder names of the attention's weights (left) and where they now live (right).
SAVED_NAMES = {
    "att_state.weight": "attention.W.weight",
    "att_feat.weight": "attention.U.weight",
    "att_feat.bias": "attention.U.bias",
    "att_v.weight": "attention.v.weight",
}


@dataclass(frozen=True)
class ModelConfig(RangeChecked):
    # one conv block (conv, norm, relu, pool) per entry: its channels
    channels: tuple[int, ...] = ranged((16, 32, 64), ge=1)
    convs_per_block: int = ranged(1, ge=1)
    cell: str = ranged("gru", choices=("gru", "lstm"))
    embed: int = ranged(48, ge=1)
    hidden: int = ranged(192, ge=1)
    layers: int = ranged(1, ge=1)
    attention: bool = ranged(True)
    attn_dim: int = ranged(64, ge=1)
    dropout: float = ranged(0.2, ge=0, lt=1)
    # rnnlab.nn.layers backend when attention is off
    backend: str = ranged("fused", choices=BACKENDS)


class ConvEncoder(nn.Module):
    """``(B, 3, S, S)`` uint8 images → ``(B, N, C)`` grid features, ``N = (S / 2**k)**2``."""

    def __init__(self, channels: tuple[int, ...], convs_per_block: int = 1) -> None:
        super().__init__()
        if not channels or min(channels) <= 0:
            raise ValueError(f"model.channels must be positive numbers, got {channels}")
        blocks: list[nn.Module] = []
        c_in = 5  # RGB ink + x, y coordinates
        for c in channels:
            for _ in range(convs_per_block):
                blocks += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU()]
                c_in = c
            blocks.append(nn.MaxPool2d(2))
        self.net = nn.Sequential(*blocks)
        self.out_channels = channels[-1]
        self.downsample = 2 ** len(channels)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        b, _, h, w = images.shape
        ink = 1.0 - images.float() / 255.0  # (B, 3, S, S): white background is 0
        ys = torch.linspace(-1, 1, h, device=images.device).view(1, 1, h, 1).expand(b, 1, h, w)
        xs = torch.linspace(-1, 1, w, device=images.device).view(1, 1, 1, w).expand(b, 1, h, w)
        x = torch.cat([ink, xs, ys], dim=1)  # (B, 5, S, S)
        grid = self.net(x)  # (B, C, S', S')
        return grid.flatten(2).transpose(1, 2)  # (B, N, C)


class Captioner(nn.Module):
    """CNN encoder + recurrent decoder; ``forward`` is teacher-forced, ``step`` decodes."""

    ban: torch.Tensor

    def __init__(self, vocab_size: int, cfg: ModelConfig, banned: tuple[int, ...] = ()) -> None:
        super().__init__()
        if cfg.cell not in ("gru", "lstm"):
            raise ValueError(f"model.cell expects gru or lstm, got {cfg.cell!r}")
        self.cfg = cfg
        self.encoder = ConvEncoder(cfg.channels, cfg.convs_per_block)
        c, h, n_layers = self.encoder.out_channels, cfg.hidden, cfg.layers
        self.init_h = nn.Linear(c, n_layers * h)
        self.init_c = nn.Linear(c, n_layers * h) if cfg.cell == "lstm" else None
        self.embed = nn.Embedding(vocab_size, cfg.embed)
        self.drop = nn.Dropout(cfg.dropout)
        if cfg.attention:
            cell_cls = cells.GRUCell if cfg.cell == "gru" else cells.LSTMCell
            sizes = [cfg.embed + c] + [h] * (n_layers - 1)
            self.cells = nn.ModuleList([cell_cls(i, h) for i in sizes])
            rng = torch.random.get_rng_state()
            self.attention = AdditiveAttention(h, c, cfg.attn_dim)
            torch.random.set_rng_state(rng)  # draw its weights as the captioner always has:
            for part in (self.attention.U, self.attention.W, self.attention.v):  # same seed,
                part.reset_parameters()  # same run as before the attention moved to nn
            self.out = nn.Linear(h + c, vocab_size)
            self.register_state_dict_post_hook(_save_names)
            self.register_load_state_dict_pre_hook(_load_names)
        else:
            self.rnn = layers.make_rnn(cfg.cell, cfg.embed, h, n_layers, backend=cfg.backend)
            self.out = nn.Linear(h, vocab_size)
        mask = torch.zeros(vocab_size)
        mask[list(banned)] = float("-inf")
        self.register_buffer("ban", mask, persistent=False)  # (V,): ids never generated

    # ---- encoder and first state ----

    def start(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Encode ``(B, S, S, 3)`` uint8 images into the decoder's starting state.

        Every tensor of the state has the batch first (``rnnlab.nn.decoding`` reorders it):
        ``h`` (and ``c`` for an LSTM) ``(B, L, H)``, and with attention the grid ``(B, N, C)``
        and its attention keys ``(B, N, A)``.
        """
        x = images.permute(0, 3, 1, 2)  # (B, 3, S, S)
        grid = self.encoder(x)  # (B, N, C)
        mean = grid.mean(dim=1)  # (B, C)
        b, n_layers, h = grid.shape[0], self.cfg.layers, self.cfg.hidden
        state = {"h": torch.tanh(self.init_h(mean)).view(b, n_layers, h)}  # (B, L, H)
        if self.init_c is not None:
            state["c"] = torch.tanh(self.init_c(mean)).view(b, n_layers, h)  # (B, L, H)
        if self.cfg.attention:
            state["grid"] = grid
            state["keys"] = self.attention.keys(grid)  # (B, N, A)
        return state

    def attend(
        self, query: torch.Tensor, grid: torch.Tensor, keys: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Context ``(B, C)`` and weights ``(B, N)`` for a query state ``(B, H)``."""
        every = torch.ones(grid.shape[:2], dtype=torch.bool, device=grid.device)  # (B, N)
        return self.attention(query, grid, every, keys=keys)

    # ---- one decoding step ----

    def step(
        self, tokens: torch.Tensor, state: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor | None]:
        """Logits ``(B, V)`` for the word after ``tokens`` ``(B,)``, the new state, and the
        attention weights ``(B, N)`` (None without attention)."""
        emb = self.drop(self.embed(tokens))  # (B, E)
        new = dict(state)
        if not self.cfg.attention:
            hx: Any = layers.state_from_batch_first(state)  # (L, B, H), or (h, c)
            out, hn = self.rnn(emb[:, None, :], hx)  # (B, 1, H)
            new.update(layers.state_to_batch_first(hn))  # h (and c): (B, L, H)
            return self.out(self.drop(out[:, 0])), new, None
        context, weights = self.attend(state["h"][:, -1], state["grid"], state["keys"])
        x = torch.cat([emb, context], dim=1)  # (B, E + C)
        hs, cs = [], []
        for i, cell in enumerate(self.cells):
            if "c" in state:
                h_i, c_i = cell(x, (state["h"][:, i], state["c"][:, i]))  # (B, H) each
                cs.append(c_i)
            else:
                h_i = cell(x, state["h"][:, i])  # (B, H)
            hs.append(h_i)
            x = self.drop(h_i)
        new["h"] = torch.stack(hs, dim=1)  # (B, L, H)
        if cs:
            new["c"] = torch.stack(cs, dim=1)  # (B, L, H)
        logits = self.out(self.drop(torch.cat([hs[-1], context], dim=1)))  # (B, V)
        return logits, new, weights

    def log_probs(
        self, tokens: torch.Tensor, state: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The step function of ``rnnlab.nn.decoding``: log-probabilities ``(B, V)``, with the
        banned ids (padding, unknown word, ``<s>``) at ``-inf``."""
        logits, new, _ = self.step(tokens, state)
        return torch.log_softmax(logits + self.ban, dim=-1), new  # (B, V)

    # ---- teacher forcing ----

    def forward(self, images: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, T, V)`` for captions fed in as ``inputs`` ``(B, T)`` (``<s> w1 ..``)."""
        state = self.start(images)
        if not self.cfg.attention:
            emb = self.drop(self.embed(inputs))  # (B, T, E)
            hx: Any = layers.state_from_batch_first(state)  # (L, B, H), or (h, c)
            out, _ = self.rnn(emb, hx)  # (B, T, H)
            return self.out(self.drop(out))  # (B, T, V)
        steps = []
        for t in range(inputs.shape[1]):
            logits, state, _ = self.step(inputs[:, t], state)  # (B, V)
            steps.append(logits)
        return torch.stack(steps, dim=1)  # (B, T, V)


def _save_names(
    module: nn.Module, state_dict: dict[str, Any], prefix: str, local_metadata: Any
) -> None:
    """``state_dict`` hook: the attention's weights under their run-folder names."""
    for saved, own in SAVED_NAMES.items():
        if prefix + own in state_dict:
            state_dict[prefix + saved] = state_dict.pop(prefix + own)


def _load_names(module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
    """``load_state_dict`` pre-hook: run-folder names back to the attention's own."""
    for saved, own in SAVED_NAMES.items():
        if prefix + saved in state_dict:
            state_dict[prefix + own] = state_dict.pop(prefix + saved)
