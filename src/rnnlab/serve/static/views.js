// A probe's answer drawn by its view (sync, seq2seq, parity, tags, prefix, text, caption…):
// used by the reversal cards and by the run cards.
import { el, sv, clamp, fmt, seqColor, PALETTE } from "./dom.js";
import { plotArea, legend } from "./chart.js";

function tokenRow(cls, tokens, truth, extra) {
  const out = el("span", { class: cls });
  tokens.forEach((tok, i) => {
    if (i) out.append(" ");
    let c = "tok";
    if (truth) c += truth[i] !== undefined && String(truth[i]) === String(tok) ? " right" : " wrong";
    if (extra) c += extra(i);
    out.append(el("span", { class: c }, String(tok)));
  });
  return out;
}
function row(label, ...content) {
  return el("div", { class: "row" }, el("span", { class: "row-label" }, label), el("span", { class: "row-body" }, ...content));
}
const sameSeq = (a, b) => a.length === b.length && a.every((x, i) => String(x) === String(b[i]));

function renderSync(box, d) {
  const read = d.read || [];
  box.replaceChildren(
    row("input", tokenRow("source", d.source)),
    row("output", tokenRow("output", d.tokens, d.truth, (i) => (read[i] === false ? " unread" : ""))),
    row("truth", tokenRow("truth-row", d.truth)),
    el("p", { class: "legend" }, el("span", { class: "tok unread sample" }, "7"), " not yet read when it had to write it"),
    verdict(d.tokens, d.truth)
  );
}
function verdict(tokens, truth) {
  const ok = sameSeq(tokens, truth);
  const right = tokens.filter((t, i) => String(t) === String(truth[i])).length;
  return el("p", { class: `verdict ${ok ? "right" : "wrong"}` }, ok ? "✓ reversed correctly" : `✗ ${right} of ${truth.length} tokens right`);
}
function renderSeq2seq(box, d) {
  const ans = d.answer ? d.answer.split(" ").filter(Boolean) : [];
  const kids = [
    row("input", tokenRow("source", d.source)),
    row("output", tokenRow("output", ans, d.truth), ans.length ? null : el("span", { class: "hint" }, "(empty)")),
    row("truth", tokenRow("truth-row", d.truth)),
    verdict(ans, d.truth),
  ];
  if (d.beam && d.beam.length) {
    const g = d.greedy.tokens;
    kids.push(
      el("div", { class: "beam" },
        el("div", { class: "sub-head" }, `Beam search (${d.beam.length} hypotheses) vs greedy`),
        el("ol", null, d.beam.map((h, i) =>
          el("li", { class: `${sameSeq(h.tokens, d.truth) ? "right" : "wrong"}${i === 0 ? " best" : ""}` },
            el("span", { class: "hyp" }, h.tokens.join(" ") || "(empty)"),
            el("span", { class: "score" }, fmt(h.score, 3))))),
        el("div", { class: "greedy" }, el("span", { class: "row-label" }, "greedy"), el("span", { class: "hyp" }, g.join(" ") || "(empty)"),
          el("span", { class: "score" }, `log p ${fmt(d.greedy.logp, 3)}`)))
    );
  } else if (d.greedy) {
    kids.push(el("p", { class: "note" }, `greedy decoding · log p = ${fmt(d.greedy.logp, 3)}`));
  }
  if (d.attention) kids.push(el("div", { class: "sub-head" }, "Attention: each output step (row) over the source (columns)"), heatmap(d.attention, d.source, d.greedy.tokens));
  box.replaceChildren(...kids);
}
function heatmap(att, src, out) {
  const rows = att.length;
  const cols = src.length;
  const cell = clamp(Math.floor(300 / Math.max(cols, 1)), 12, 30);
  const L = 44;
  const Tp = 22;
  const W = L + cols * cell + 4;
  const H = Tp + rows * cell + 4;
  const svg = sv("svg", { class: "heatmap", viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": "attention weights" });
  src.forEach((s, j) => svg.append(sv("text", { x: L + j * cell + cell / 2, y: Tp - 7, "text-anchor": "middle", class: "axis-tok" }, String(s))));
  for (let i = 0; i < rows; i++) {
    const label = i < out.length ? String(out[i]) : "eos";
    svg.append(sv("text", { x: L - 6, y: Tp + i * cell + cell / 2 + 4, "text-anchor": "end", class: `axis-tok${i >= out.length ? " eos" : ""}` }, label));
    for (let j = 0; j < cols; j++) {
      const w = att[i][j];
      const r = sv("rect", { x: L + j * cell, y: Tp + i * cell, width: cell - 1, height: cell - 1, class: "hm-cell" });
      r.style.fill = seqColor(w);
      r.append(sv("title", null, `output ${label} ← source ${src[j]} (position ${j + 1}): ${fmt(w, 3)}`));
      svg.append(r);
      if (i < out.length && j === cols - 1 - i)
        svg.append(sv("rect", { x: L + j * cell + 0.5, y: Tp + i * cell + 0.5, width: cell - 2, height: cell - 2, class: "hm-expected" }));
      if (cell >= 24 && w >= 0.1)
        svg.append(sv("text", { x: L + j * cell + cell / 2, y: Tp + i * cell + cell / 2 + 3, "text-anchor": "middle", class: `hm-val${w > 0.55 ? " dark" : ""}` },
          w >= 0.995 ? "1" : w.toFixed(2).replace(/^0/, "")));
    }
  }
  const wrap = el("div", { class: "heatmap-wrap" }, svg);
  wrap.append(el("p", { class: "legend" }, el("span", { class: "hm-key" }), " the source token a perfect reverser would copy"));
  return wrap;
}

// ---------------------------------------------------------------- views of run folders
export function renderByView(box, d) {
  switch (d.view) {
    case "sync": return renderSync(box, d);
    case "seq2seq": return renderSeq2seq(box, d);
    case "parity": return renderParityCompact(box, d);
    case "dense": return renderParityCompact(box, { ...d, steps: { even: d.even, p_even: d.p_even } });
    case "tags": return renderTags(box, d);
    case "prefix": return renderPrefix(box, d);
    case "text": return renderText(box, d);
    case "caption": return renderCaption(box, d);
    case "answer": return box.replaceChildren(el("div", { class: "answer" }, String(d.answer)));
    default:
      return box.replaceChildren(
        d.answer !== undefined ? el("div", { class: "answer" }, String(d.answer)) : null,
        el("pre", { class: "json" }, JSON.stringify(d, null, 1).slice(0, 4000))
      );
  }
}
function renderParityCompact(box, d) {
  const st = d.steps;
  const r = el("div", { class: "dense-row" });
  st.even.forEach((ans, t) => {
    const bar = el("div", { class: "pbar" }, el("span"));
    bar.firstChild.style.width = `${Math.round(st.p_even[t] * 100)}%`;
    r.append(el("div", { class: `dcell ${ans === d.truth[t] ? "right" : "wrong"}`, title: `p(even) = ${fmt(st.p_even[t])}` },
      el("div", { class: `x b${d.bits[t]}` }, String(d.bits[t])), bar, el("div", { class: "evenness" }, String(ans))));
  });
  const wrong = st.even.filter((a, t) => a !== d.truth[t]).length;
  box.replaceChildren(r, el("p", { class: "note" }, `answer ${d.answer} · ${wrong ? `${wrong} wrong` : "all right"}`));
}
function renderTags(box, d) {
  const wrap = el("div", { class: "tags" });
  d.tokens.forEach((tok, i) => {
    const p = d.p ? d.p[i] : null;
    const top = (d.top && d.top[i]) || [];
    const tip = top.map(([tag, q]) => `${tag} ${fmt(q, 3)}`).join("\n");
    const tagEl = el("span", { class: "tag" }, String(d.tags[i]));
    if (p != null) tagEl.style.backgroundColor = `rgba(44, 111, 173, ${(0.12 + 0.5 * p).toFixed(3)})`;
    const item = el("button", { type: "button", class: "tag-tok", title: tip || undefined },
      el("span", { class: "word" }, String(tok)), tagEl,
      el("span", { class: "tag-p" }, p != null ? fmt(p, 2) : ""),
      el("span", { class: "top3" }, top.slice(0, 3).map(([tag, q]) => el("span", null, `${tag} `, el("b", null, fmt(q, 2))))));
    item.addEventListener("click", () => item.classList.toggle("open"));
    wrap.append(item);
  });
  box.replaceChildren(wrap, el("p", { class: "note" }, `tag and its probability${d.p_kind ? ` (${d.p_kind})` : ""} · click a word for its top 3`));
}
function renderPrefix(box, d) {
  const n = d.tokens.length;
  const labels = d.labels || [];
  const p = plotArea(520, 190, [36, 30, 10, 52], "P(label) after each word");
  const svg = p.svg;
  const X = (i) => p.x(n <= 1 ? 0.5 : i / (n - 1));
  const Y = p.y;
  [0, 0.5, 1].forEach((v) => svg.append(sv("line", { x1: p.left, x2: p.right, y1: Y(v), y2: Y(v), class: "grid-line" }),
    sv("text", { x: p.left - 6, y: Y(v) + 4, "text-anchor": "end", class: "axis-text" }, String(v))));
  labels.forEach((lab, k) => {
    const pts = d.p.map((row, i) => `${X(i).toFixed(1)},${Y(row[k]).toFixed(1)}`).join(" ");
    const line = sv("polyline", { points: pts, class: "series" });
    line.style.stroke = PALETTE[k % PALETTE.length];
    svg.append(line);
    d.p.forEach((row, i) => {
      const c = sv("circle", { cx: X(i), cy: Y(row[k]), r: 2.8 }, sv("title", null, `${lab} after "${d.tokens[i]}": ${fmt(row[k], 3)}`));
      c.style.fill = PALETTE[k % PALETTE.length];
      svg.append(c);
    });
  });
  const every = Math.ceil(n / 26);
  d.tokens.forEach((tok, i) => {
    if (i % every) return;
    svg.append(sv("text", { x: X(i), y: p.bottom + 12, class: "axis-text word-tick", transform: `rotate(40 ${X(i)} ${p.bottom + 12})` }, String(tok).slice(0, 12)));
  });
  const key = legend(labels.map((lab, k) => [lab, PALETTE[k % PALETTE.length]]));
  const last = d.p[n - 1] || [];
  const best = last.indexOf(Math.max(...last));
  box.replaceChildren(
    el("div", { class: "answer" }, labels[best] !== undefined ? `${labels[best]} (${fmt(last[best], 2)})` : ""),
    key, svg, el("p", { class: "note" }, "P(label) after each prefix: the many-to-one network read word by word"));
}
function renderText(box, d) {
  const out = el("p", { class: "lm-text" });
  (d.prompt || []).forEach((t) => out.append(el("span", { class: "prompt" }, String(t)), " "));
  d.tokens.forEach((t) => {
    const s = el("span", { class: "gen", title: `p = ${fmt(t.p, 3)}` }, String(t.token));
    s.style.backgroundColor = `rgba(44, 111, 173, ${(0.08 + 0.55 * clamp(t.p, 0, 1)).toFixed(3)})`;
    out.append(s, " ");
  });
  box.replaceChildren(out, el("p", { class: "note" }, `grey: the prompt · shaded by p of each sampled token${d.temperature != null ? ` · temperature ${d.temperature}` : ""}`));
}
function renderCaption(box, d) {
  box.replaceChildren(
    el("div", { class: "caption" },
      d.image ? el("img", { src: d.image, alt: "the input image", class: "cap-img" }) : null,
      el("ol", { class: "captions" }, (d.captions || []).map((c, i) =>
        el("li", { class: i === 0 ? "best" : "" }, el("span", { class: "hyp" }, c.text), el("span", { class: "score" }, fmt(c.score, 3))))))
  );
}
