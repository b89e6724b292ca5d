"""A linear-chain conditional random field over tag sequences, written out.

For emissions ``e[t, k]`` (the tagger's score of tag k at word t) and learned
transition scores ``A[i, j]`` (tag i followed by tag j), plus ``start[k]`` and
``end[k]``, a tag sequence ``y_1..y_n`` scores

    s(y) = start[y_1] + sum_t e[t, y_t] + sum_{t>1} A[y_{t-1}, y_t] + end[y_n]

and ``p(y) = exp(s(y)) / Z`` with ``Z = sum over all K^n sequences of exp(s(y))``.

- ``log_partition``: the forward algorithm computes ``log Z`` in O(n K^2):
  ``alpha_1 = start + e_1``, ``alpha_t[j] = logsumexp_i(alpha_{t-1}[i] + A[i, j]) + e_t[j]``,
  ``log Z = logsumexp_k(alpha_n[k] + end[k])``.
- ``viterbi``: the same recursion with max instead of logsumexp, keeping back-pointers,
  gives the best sequence ``argmax_y s(y)``.
- ``marginals``: ``p(y_t = k)`` for every word and tag, the gradient of ``log Z`` with
  respect to the emissions (back-propagating through the forward algorithm is the
  backward algorithm: forward-backward in O(n K^2)).

Padded batches: sequences are right-padded and ``lengths`` (B,) give the real lengths;
past its own end a sequence's ``alpha`` is carried unchanged.
Shapes: B batch, T time (words), K tags.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.nn.layers import length_mask


class CRF(nn.Module):
    def __init__(self, num_tags: int) -> None:
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"CRF: num_tags must be >= 1, got {num_tags}")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # (K, K): from, to
        self.start = nn.Parameter(torch.zeros(num_tags))  # (K,)
        self.end = nn.Parameter(torch.zeros(num_tags))  # (K,)

    def _mask(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        return length_mask(lengths.to(emissions.device), emissions.shape[1])  # (B, T)

    def score(self, emissions: Tensor, tags: Tensor, lengths: Tensor) -> Tensor:
        """``s(y)`` of the given tag sequences: (B,)."""
        mask = self._mask(emissions, lengths)  # (B, T)
        tags = torch.where(mask, tags, 0)  # (B, T): padding read as tag 0, then masked out
        emit = emissions.gather(2, tags.unsqueeze(-1)).squeeze(-1)  # (B, T)
        total = (emit * mask).sum(1)  # (B,)
        trans = self.transitions[tags[:, :-1], tags[:, 1:]]  # (B, T-1)
        total = total + (trans * mask[:, 1:]).sum(1)  # (B,)
        last = tags.gather(1, (lengths.to(tags.device) - 1).unsqueeze(1)).squeeze(1)  # (B,)
        return total + self.start[tags[:, 0]] + self.end[last]  # (B,)

    def log_partition(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        """``log Z`` by the forward algorithm: (B,)."""
        mask = self._mask(emissions, lengths)  # (B, T)
        alpha = self.start + emissions[:, 0]  # (B, K)
        for t in range(1, emissions.shape[1]):
            # alpha[b, i] + A[i, j], summed out over i
            nxt = torch.logsumexp(alpha.unsqueeze(2) + self.transitions, dim=1)  # (B, K)
            nxt = nxt + emissions[:, t]  # (B, K)
            alpha = torch.where(mask[:, t, None], nxt, alpha)  # (B, K)
        return torch.logsumexp(alpha + self.end, dim=1)  # (B,)

    def marginals(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        """``p(y_t = k | x)`` of each word and tag: (B, T, K), each real word's row sums
        to 1, zeros past each length. Works under ``torch.no_grad`` too."""
        with torch.enable_grad():
            e = emissions.detach().requires_grad_()  # (B, T, K)
            (grad,) = torch.autograd.grad(self.log_partition(e, lengths).sum(), e)
        return grad.detach()  # (B, T, K): d log Z / d e[t, k] = p(y_t = k)

    def nll(self, emissions: Tensor, tags: Tensor, lengths: Tensor) -> Tensor:
        """``-log p(y)`` of each sequence: (B,)."""
        return self.log_partition(emissions, lengths) - self.score(emissions, tags, lengths)

    @torch.no_grad()
    def viterbi(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        """The best tag sequence of each sentence: (B, T), zeros past each length."""
        mask = self._mask(emissions, lengths)  # (B, T)
        batch, steps, k = emissions.shape
        best = self.start + emissions[:, 0]  # (B, K)
        backs: list[Tensor] = []
        for t in range(1, steps):
            cand = best.unsqueeze(2) + self.transitions  # (B, K, K): from i to j
            top, arg = cand.max(dim=1)  # (B, K), (B, K)
            top = top + emissions[:, t]  # (B, K)
            keep = mask[:, t, None]  # (B, 1)
            best = torch.where(keep, top, best)  # (B, K)
            identity = torch.arange(k, device=emissions.device).expand(batch, k)  # (B, K)
            backs.append(torch.where(keep, arg, identity))  # past the end: point to itself
        tag = (best + self.end).argmax(1)  # (B,)
        path = [tag]
        for arg in reversed(backs):
            tag = arg.gather(1, tag.unsqueeze(1)).squeeze(1)  # (B,)
            path.append(tag)
        out = torch.stack(path[::-1], dim=1)  # (B, T)
        return torch.where(mask, out, 0)  # (B, T)
