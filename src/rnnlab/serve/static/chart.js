// The training curve of a run: a line chart of the loss and one dev metric.
import { el, sv, fmt, compact, PALETTE } from "./dom.js";

export function curve(rows) {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter(
    (k) => k.startsWith("dev_") && k !== "dev_n" && rows.some((r) => typeof r[k] === "number")
  );
  const pref = ["dev_acc", "dev_seq_acc", "dev_exact", "dev_accuracy", "dev_f1", "dev_bleu", "dev_loss", "dev_ppl"];
  const wrap = el("div", { class: "curve-wrap" });
  const sel = el("select", { "aria-label": "dev metric" }, keys.map((k) => el("option", { value: k }, k)));
  sel.value = pref.find((k) => keys.includes(k)) || keys[0] || "";
  const draw = () => wrap.replaceChildren(
    el("div", { class: "sub-head" }, "Training curve ", keys.length ? sel : null),
    lineChart(rows, "loss", sel.value || null));
  sel.addEventListener("change", draw);
  draw();
  return wrap;
}
// an SVG plot: margins [left, right, top, bottom] around the area where x and y map
// fractions in [0, 1] (y from the bottom up)
export function plotArea(width, height, [left, right, top, bottom], label) {
  const svg = sv("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  return {
    svg,
    left,
    right: width - right,
    top,
    bottom: height - bottom,
    x: (f) => left + f * (width - left - right),
    y: (f) => top + (1 - f) * (height - top - bottom),
  };
}

// one swatch and name per series: [[name, color], ...]
export function legend(entries) {
  return el("div", { class: "chart-legend" }, entries.map(([name, color]) => {
    const sw = el("span", { class: "swatch" });
    sw.style.backgroundColor = color;
    return el("span", null, sw, String(name));
  }));
}

function lineChart(rows, left, right) {
  const p = plotArea(520, 170, [50, 50, 12, 26], "training curve");
  const svg = p.svg;
  const steps = rows.map((r) => r.step);
  const sx0 = Math.min(...steps);
  const sx1 = Math.max(...steps);
  const X = (s) => p.x(sx1 === sx0 ? 0.5 : (s - sx0) / (sx1 - sx0));
  svg.append(sv("line", { x1: p.left, x2: p.right, y1: p.bottom, y2: p.bottom, class: "axis-line" }),
    sv("text", { x: p.left, y: p.bottom + 18, class: "axis-text" }, String(sx0)),
    sv("text", { x: p.right, y: p.bottom + 18, "text-anchor": "end", class: "axis-text" }, `step ${sx1}`));
  const series = (key, color, side) => {
    const pts = rows.filter((r) => typeof r[key] === "number" && isFinite(r[key]));
    if (!pts.length) return;
    let lo = Math.min(...pts.map((r) => r[key]));
    let hi = Math.max(...pts.map((r) => r[key]));
    if (key.includes("acc") && lo >= 0 && hi <= 1) [lo, hi] = [Math.min(lo, 0.5), 1];
    if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5];
    const Y = (v) => p.y((v - lo) / (hi - lo));
    const line = sv("polyline", { points: pts.map((r) => `${X(r.step).toFixed(1)},${Y(r[key]).toFixed(1)}`).join(" "), class: "series" });
    line.style.stroke = color;
    const ax = side === "left" ? p.left - 5 : p.right + 5;
    const anchor = side === "left" ? "end" : "start";
    for (const v of [lo, hi]) {
      const t = sv("text", { x: ax, y: Y(v) + 4, "text-anchor": anchor, class: "axis-text" }, compact(v));
      t.style.fill = color;
      svg.append(t);
    }
    const lastR = pts[pts.length - 1];
    svg.append(line, sv("title", null, `${key}: last ${fmt(lastR[key], 4)} at step ${lastR.step}`));
  };
  series(left, PALETTE[1], "left");
  if (right) series(right, PALETTE[0], "right");
  const shown = [[left, PALETTE[1]], [right, PALETTE[0]]].filter(([k]) => k);
  return el("div", null, legend(shown), svg);
}
