// Section 1's other networks on the same bits: the dense net and the other parity RNN.
import { $, el, fmt, divColor } from "./dom.js";
import { P } from "./parity-state.js";

// another network on the same bits, one cell a step (states as small squares if given)
function stepRow(d, even, pEven, states) {
  const row = el("div", { class: "dense-row" });
  even.forEach((ans, t) => {
    const ok = ans === d.truth[t];
    const bar = el("div", { class: "pbar" }, el("span"));
    bar.firstChild.style.width = `${Math.round(pEven[t] * 100)}%`;
    const squares = states
      ? el("div", { class: "mini-units" }, states[t].map((v, u) => {
          const q = el("span", { class: "mini-unit", title: `h${t + 1}[${u}] = ${fmt(v)}` });
          q.style.backgroundColor = divColor(v);
          return q;
        }))
      : null;
    row.append(
      el("div", { class: `dcell ${ok ? "right" : "wrong"}${P.data && t > P.step ? " future" : ""}${t === P.step ? " current" : ""}`, "data-step": t, title: `p(even) = ${fmt(pEven[t])}` },
        el("div", { class: `x b${d.bits[t]}` }, String(d.bits[t])),
        squares,
        bar,
        el("div", { class: "evenness" }, String(ans)))
    );
    if (t < even.length - 1) row.append(" ");
  });
  const wrong = even.filter((a, t) => a !== d.truth[t]).length;
  return [row, wrong];
}

// a network's answers on the parity input, or its error, into a card's output box
function renderSteps(selector, error, d, pick, tail) {
  const box = $(selector);
  if (!box) return;
  box.replaceChildren();
  if (error) {
    box.append(el("div", { class: "error", role: "alert" }, error));
    return;
  }
  if (!d) return;
  const { even, pEven, states } = pick(d);
  const [row, wrong] = stepRow(d, even, pEven, states);
  const verdict = wrong ? `${wrong} wrong` : "all right";
  box.append(row, el("div", { class: "note" }, "answers ", el("span", { class: "answers" }, even.join(" ")), ` · ${verdict} · ${tail(d)}`));
}

export function renderDense() {
  renderSteps("#dense-output", P.denseErr, P.dense, (d) => ({ even: d.even, pEven: d.p_even, states: null }),
    (d) => `it has exactly ${d.n} inputs: shorter inputs are padded with 0s, longer ones it cannot read`);
}

export function renderOther() {
  renderSteps("#other-output", P.otherErr, P.other, (d) => ({ even: d.steps.even, pEven: d.steps.p_even, states: d.steps.h }),
    (d) => `${d.hidden} hidden units`);
}
