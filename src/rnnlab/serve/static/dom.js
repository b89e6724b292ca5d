// The page's helpers: DOM building, number formats, colour scales, the JSON API, the
// input chips. No state of the page here beyond the latest() counters.

export const $ = (sel, root = document) => root.querySelector(sel);
const SVGNS = "http://www.w3.org/2000/svg";

export function setAttrs(e, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "text") e.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
}
export function addKids(e, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k == null || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
}
export function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  addKids(e, kids);
  return e;
}
export function sv(tag, attrs, ...kids) {
  const e = document.createElementNS(SVGNS, tag);
  setAttrs(e, attrs);
  addKids(e, kids);
  return e;
}
export const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
export const fmt = (v, d = 3) => (typeof v === "number" ? v.toFixed(d).replace(/^-0\.0+$/, "0.000") : String(v));
export const fmtP = (p) => (p >= 0.9995 ? "1.00" : p <= 0.0005 ? "0.00" : p.toFixed(2));
export const compact = (v) =>
  Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 0.01 || v === 0 ? String(+v.toPrecision(3)) : v.toExponential(1);
export const debounce = (fn, ms) => {
  let id = 0;
  return (...a) => {
    clearTimeout(id);
    id = setTimeout(() => fn(...a), ms);
  };
};

// a diverging blue-white-red scale for values in [-1, 1] (ColorBrewer RdBu)
const DIV = [
  [-1, [33, 102, 172]],
  [-0.5, [103, 169, 207]],
  [0, [247, 247, 247]],
  [0.5, [239, 138, 98]],
  [1, [178, 24, 43]],
];
export function divColor(v) {
  v = clamp(Number(v) || 0, -1, 1);
  for (let i = 1; i < DIV.length; i++) {
    const [x1, c1] = DIV[i];
    const [x0, c0] = DIV[i - 1];
    if (v <= x1) {
      const f = (v - x0) / (x1 - x0);
      const c = c0.map((a, j) => Math.round(a + f * (c1[j] - a)));
      return `rgb(${c[0]},${c[1]},${c[2]})`;
    }
  }
  return "rgb(178,24,43)";
}
// a one-hue scale for weights in [0, 1]
export function seqColor(w) {
  w = clamp(Number(w) || 0, 0, 1);
  const a = [250, 251, 253];
  const b = [24, 62, 110];
  const c = a.map((x, j) => Math.round(x + Math.pow(w, 0.8) * (b[j] - x)));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}
export const PALETTE = ["#2c6fad", "#c2412d", "#3d8b5a", "#8a5fb8", "#b08a1e", "#4a9aa8"];

export async function api(path, body) {
  const init =
    body === undefined
      ? {}
      : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    return { ok: false, status: 0, data: { error: "the server cannot be reached" } };
  }
  let data;
  try {
    data = await res.json();
  } catch (e) {
    data = { error: `HTTP ${res.status}` };
  }
  if (!res.ok && !(data && data.error)) data = { error: `HTTP ${res.status}` };
  return { ok: res.ok, status: res.status, data };
}
// only the latest call of each key renders: an older answer that comes late is dropped
const seqs = {};
export async function latest(key, fn) {
  const n = (seqs[key] = (seqs[key] || 0) + 1);
  const r = await fn();
  return n === seqs[key] ? r : null;
}
export const errText = (r) =>
  r.status === 503 ? `${r.data.error} — retrying when it is ready` : r.data.error || `HTTP ${r.status}`;
export function setError(card, text) {
  const box = card && card.querySelector(".error");
  if (box) box.textContent = text || "";
}
export function splitTokens(s) {
  const parts = s.trim().split(/[\s,]+/).filter(Boolean);
  if (parts.length === 1 && /^[0-9]{2,}$/.test(parts[0])) return parts[0].split("");
  return parts;
}
export function chips(box, examples, pick) {
  box.replaceChildren(
    ...examples.map((ex) =>
      el("button", { type: "button", class: "chip", title: "use this input", onclick: () => pick(ex) }, ex)
    )
  );
}
