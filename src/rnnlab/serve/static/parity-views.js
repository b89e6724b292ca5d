// Section 1's pictures of the chosen RNN: (a) the rolled-up cell, (b) the unrolled
// view, (c) the state space with the automaton. They draw P; they change nothing.
import { $, el, sv, fmt, fmtP, divColor } from "./dom.js";
import { P, WINDOW } from "./parity-state.js";

// (a) the rolled-up cell
export function renderRolled() {
  const svg = $("#parity-rolled");
  svg.replaceChildren();
  const d = P.data;
  const defs = sv("defs", null, arrowMarker("rolled-arrow"));
  svg.append(defs);
  if (!d) {
    svg.append(sv("text", { x: 200, y: 125, class: "muted-text", "text-anchor": "middle" }, "type some bits"));
    return;
  }
  const t = P.step;
  const h = d.steps.h[t];
  const p = d.steps.p_even[t];
  const ans = d.steps.even[t];
  const ok = ans === d.truth[t];
  const bx = 90;
  const bw = 220;
  const by = 92;
  const bh = 70;
  // output
  svg.append(
    sv("text", { x: 200, y: 24, "text-anchor": "middle", class: "out-text" }, `p(even) = ${fmt(p, 3)}`),
    sv("text", { x: 200, y: 46, "text-anchor": "middle", class: `ans-text ${ok ? "right" : "wrong"}` },
      `${ans ? "even" : "odd"} ${ok ? "✓" : "✗"}`),
    sv("line", { x1: 200, y1: by, x2: 200, y2: 56, class: "wire", "marker-end": "url(#rolled-arrow)" })
  );
  // the cell with the heat strip
  svg.append(
    sv("rect", { x: bx, y: by, width: bw, height: bh, rx: 12, class: "cell-box" }),
    sv("text", { x: bx + 10, y: by + 16, class: "cell-label" }, `h`, sv("tspan", { class: "sub", dy: 3 }, String(t + 1)))
  );
  const H = h.length;
  const size = Math.min(26, Math.floor((bw - 24) / H) - 2);
  const x0 = 200 - (H * (size + 2) - 2) / 2;
  h.forEach((v, u) => {
    const r = sv("rect", { x: x0 + u * (size + 2), y: by + 30, width: size, height: size, rx: 3, class: "heat" });
    r.style.fill = divColor(v);
    r.append(sv("title", null, `unit ${u}: ${fmt(v)}`));
    svg.append(r);
  });
  // the self-loop: h_t goes back in as h_{t-1}
  const lx = bx + bw;
  svg.append(
    sv("path", {
      d: `M ${lx} ${by + 22} C ${lx + 70} ${by + 6}, ${lx + 70} ${by + bh - 6}, ${lx + 2} ${by + bh - 20}`,
      class: "wire loop",
      "marker-end": "url(#rolled-arrow)",
    }),
    sv("text", { x: lx + 58, y: by + bh / 2 + 4, class: "small-text" }, "h", sv("tspan", { class: "sub", dy: 3 }, "t−1"))
  );
  // input
  svg.append(
    sv("line", { x1: 200, y1: 212, x2: 200, y2: by + bh + 2, class: "wire", "marker-end": "url(#rolled-arrow)" }),
    sv("circle", { cx: 200, cy: 230, r: 16, class: `bit-node b${d.bits[t]}` }),
    sv("text", { x: 200, y: 235, "text-anchor": "middle", class: "bit-text" }, String(d.bits[t])),
    sv("text", { x: 176, y: 235, "text-anchor": "end", class: "small-text" }, "x", sv("tspan", { class: "sub", dy: 3 }, String(t + 1)), sv("tspan", { dy: -3 }, " ="))
  );
  svg.append(sv("text", { x: 8, y: 20, class: "small-text" }, `t = ${t + 1}`));
  if (d.interventions && d.interventions.some((e) => e.step === t))
    svg.append(sv("text", { x: 8, y: 38, class: "small-text edited-text" }, "edited here"));
}

function arrowMarker(id, cls = "arrow-head") {
  return sv(
    "marker",
    { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
    sv("path", { d: "M 0 0 L 10 5 L 0 10 z", class: cls })
  );
}

// (b) the unrolled view
export function renderUnrolled() {
  const box = $("#parity-unrolled");
  const keep = box.scrollLeft;
  const atEnd = box.scrollLeft + box.clientWidth >= box.scrollWidth - 4;
  box.replaceChildren();
  const d = P.data;
  if (!d) return;
  const st = d.steps;
  const base = d.baseline;
  const lo = Math.max(0, P.step - WINDOW + 1);
  if (lo > 0) box.append(el("div", { class: "col-more" }, `… ${lo} earlier steps`));
  for (let t = lo; t <= P.step; t++) {
    const ans = st.even[t];
    const truth = d.truth[t];
    const changed = base && base.even[t] !== ans;
    const units = st.h[t].map((v, u) => {
      const edit = P.edits.find((e) => e.step === t && e.unit === u);
      let title = `h${t + 1}[${u}] = ${fmt(v)}`;
      if (base) title += ` (unedited ${fmt(base.h[t][u])})`;
      if (edit) title += ` — ${editText(edit)}`;
      const b = el("button", {
        type: "button",
        class: "unit" + (edit ? " edited" : ""),
        "data-step": t,
        "data-unit": u,
        title,
        "aria-label": title,
      });
      b.style.backgroundColor = divColor(v);
      return b;
    });
    const bar = el("div", { class: "pbar" }, el("span"));
    bar.firstChild.style.width = `${Math.round(st.p_even[t] * 100)}%`;
    const col = el(
      "div",
      {
        class: `col ${ans === truth ? "right" : "wrong"}${changed ? " changed" : ""}${t === P.step ? " current" : ""}`,
        "data-step": t,
      },
      el("div", { class: "t" }, `t=${t + 1}`),
      el("div", { class: `x b${d.bits[t]}`, title: `input x${t + 1}` }, String(d.bits[t])),
      el("div", { class: "units" }, units),
      el("div", { class: "p", title: "p(even)" }, fmtP(st.p_even[t])),
      bar,
      el(
        "div",
        { class: "ans", title: `answer ${ans ? "even" : "odd"}; truth ${truth ? "even" : "odd"}` },
        el("span", { class: "evenness" }, String(ans)),
        el("span", { class: "truth-wrap" }, "truth ", el("span", { class: "truth" }, String(truth)))
      ),
      changed ? el("div", { class: "was" }, `was ${base.even[t]}`) : null
    );
    box.append(col);
  }
  if (atEnd || P.timer) box.scrollLeft = box.scrollWidth;
  else box.scrollLeft = keep;
}

// (c) the state space with the automaton
export function renderMap() {
  const svg = $("#parity-map");
  const info = $("#parity-map-info");
  svg.replaceChildren();
  info.textContent = "";
  const d = P.data;
  if (!d || !d.automaton) return;
  const a = d.automaton;
  const W = 440;
  const H = 330;
  const R = 21;
  const pts = d.steps.point;
  const all = [...pts, ...a.centers, a.start_point];
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const span = Math.max(x1 - x0, y1 - y0, 1e-3);
  const scale = Math.min((W - 2 * 78) / Math.max(x1 - x0, span * 0.2), (H - 2 * 74) / Math.max(y1 - y0, span * 0.2));
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const X = (p) => W / 2 + (p[0] - cx) * scale;
  const Y = (p) => H / 2 - (p[1] - cy) * scale;
  svg.append(sv("defs", null, arrowMarker("map-arrow", "arrow-head"), arrowMarker("map-arrow-path", "path-head")));
  const C = a.centers.map((c) => [X(c), Y(c)]);
  const mid = [C.reduce((s, c) => s + c[0], 0) / C.length, C.reduce((s, c) => s + c[1], 0) / C.length];
  // transitions
  const g = sv("g", { class: "transitions" });
  a.transitions.forEach((row, s) => {
    const byTarget = {};
    row.forEach((tgt, bit) => (byTarget[tgt] = byTarget[tgt] ? `${byTarget[tgt]},${bit}` : String(bit)));
    for (const [tgtS, label] of Object.entries(byTarget)) {
      const tgt = Number(tgtS);
      const p = C[s];
      if (!p || !C[tgt]) continue;
      if (tgt === s) {
        let dx = p[0] - mid[0];
        let dy = p[1] - mid[1];
        let n = Math.hypot(dx, dy);
        if (n < 1) [dx, dy, n] = [0, -1, 1];
        const th = Math.atan2(dy / n, dx / n);
        const a1 = th - 0.45;
        const a2 = th + 0.45;
        const s1 = [p[0] + R * Math.cos(a1), p[1] + R * Math.sin(a1)];
        const s2 = [p[0] + R * Math.cos(a2), p[1] + R * Math.sin(a2)];
        const c1 = [p[0] + 2.8 * R * Math.cos(a1 - 0.35), p[1] + 2.8 * R * Math.sin(a1 - 0.35)];
        const c2 = [p[0] + 2.8 * R * Math.cos(a2 + 0.35), p[1] + 2.8 * R * Math.sin(a2 + 0.35)];
        g.append(
          sv("path", { d: `M ${s1} C ${c1} ${c2} ${s2}`, class: "edge", "marker-end": "url(#map-arrow)" }),
          sv("text", { x: p[0] + 2.5 * R * Math.cos(th), y: p[1] + 2.5 * R * Math.sin(th) + 4, class: "edge-label", "text-anchor": "middle" }, label)
        );
      } else {
        const q = C[tgt];
        const dx = q[0] - p[0];
        const dy = q[1] - p[1];
        const n = Math.hypot(dx, dy) || 1;
        const nx = -dy / n;
        const ny = dx / n;
        const off = Math.min(40, n * 0.25);
        const ctl = [(p[0] + q[0]) / 2 + nx * off, (p[1] + q[1]) / 2 + ny * off];
        const from = towards(p, ctl, R);
        const to = towards(q, ctl, R + 2);
        const lab = [0.25 * p[0] + 0.5 * ctl[0] + 0.25 * q[0] + nx * 10, 0.25 * p[1] + 0.5 * ctl[1] + 0.25 * q[1] + ny * 10];
        g.append(
          sv("path", { d: `M ${from} Q ${ctl} ${to}`, class: "edge", "marker-end": "url(#map-arrow)" }),
          sv("text", { x: lab[0], y: lab[1] + 4, class: "edge-label", "text-anchor": "middle" }, label)
        );
      }
    }
  });
  svg.append(g);
  // the path of the states so far
  const t = P.step;
  const path = [a.start_point, ...pts.slice(0, t + 1)].map((p) => `${X(p).toFixed(1)},${Y(p).toFixed(1)}`);
  svg.append(sv("polyline", { points: path.join(" "), class: "state-path" }));
  // the automaton's states
  const cur = d.steps.state[t];
  C.forEach((c, s) => {
    const even = a.answers[s] === 1;
    const out = [c[0] - mid[0], c[1] - mid[1]];
    // the label goes beside the circle, away from its self-loop (which points outwards)
    const vertical = C.length === 1 || Math.abs(out[1]) >= Math.abs(out[0]);
    const side = 1; // the start arrow comes in from the left
    const lx = vertical ? c[0] + side * (R + 7) : c[0];
    const ly = vertical ? c[1] - 1 : c[1] - R - 20;
    const anchor = vertical ? (side > 0 ? "start" : "end") : "middle";
    const grp = sv("g", { class: `state ${even ? "even" : "odd"}${s === cur ? " lit" : ""}` });
    grp.append(
      sv("circle", { cx: c[0], cy: c[1], r: R }),
      sv("text", { x: lx, y: ly, "text-anchor": anchor, class: "state-name" }, even ? "even" : "odd"),
      sv("text", { x: lx, y: ly + 13, "text-anchor": anchor, class: "state-id" }, `q${s}`),
      sv("title", null, `state q${s}: answers ${even ? "even (1)" : "odd (0)"}`)
    );
    svg.append(grp);
  });
  if (C[a.start]) {
    const s = C[a.start];
    svg.append(sv("path", { d: `M ${s[0] - R - 26} ${s[1] - 18} L ${s[0] - R - 3} ${s[1] - 6}`, class: "edge start", "marker-end": "url(#map-arrow)" }));
    svg.append(sv("text", { x: s[0] - R - 28, y: s[1] - 22, class: "edge-label", "text-anchor": "end" }, "start"));
  }
  // the points
  const sp = a.start_point;
  svg.append(sv("rect", { x: X(sp) - 4, y: Y(sp) - 4, width: 8, height: 8, class: "start-point" }, sv("title", null, "h0 = 0, the start state")));
  pts.slice(0, t + 1).forEach((p, i) => {
    const last = i === t;
    svg.append(
      sv("circle", { cx: X(p), cy: Y(p), r: last ? 6 : 3.5, class: `pt${last ? " current" : ""} b${d.bits[i]}` },
        sv("title", null, `h${i + 1} after x${i + 1} = ${d.bits[i]} (state q${d.steps.state[i]})`))
    );
  });
  const ok = a.is_parity ? "this automaton computes parity" : "this automaton is not parity";
  info.textContent = `${ok} · determinism ${fmt(a.determinism, 2)} · purity ${fmt(a.purity, 2)} · now in q${cur} (${a.answers[cur] ? "even" : "odd"})`;
}
function towards(p, q, r) {
  const dx = q[0] - p[0];
  const dy = q[1] - p[1];
  const n = Math.hypot(dx, dy) || 1;
  return [+(p[0] + (dx / n) * r).toFixed(1), +(p[1] + (dy / n) * r).toFixed(1)];
}

// an intervention in words: the unrolled view's tooltips and the list of interventions
export function editText(e) {
  return e.op === "clamp" ? `clamp to ${+Number(e.value).toFixed(3)}` : e.op;
}
