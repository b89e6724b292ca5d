// rnnlab lab: the page of `rnnlab serve`. Plain ES2020, no dependencies, no network beyond
// this server's JSON API (/api/models). The CSP forbids inline code and styles, so every
// handler is attached here and dynamic styles go through the CSSOM (element.style).
"use strict";
(() => {
  // ---------------------------------------------------------------- helpers
  const $ = (sel, root = document) => root.querySelector(sel);
  const SVGNS = "http://www.w3.org/2000/svg";

  function setAttrs(e, attrs) {
    if (!attrs) return;
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (k === "text") e.textContent = v;
      else if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
  }
  function addKids(e, kids) {
    for (const k of kids.flat(Infinity)) {
      if (k == null || k === false) continue;
      e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
  }
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    setAttrs(e, attrs);
    addKids(e, kids);
    return e;
  }
  function sv(tag, attrs, ...kids) {
    const e = document.createElementNS(SVGNS, tag);
    setAttrs(e, attrs);
    addKids(e, kids);
    return e;
  }
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const fmt = (v, d = 3) => (typeof v === "number" ? v.toFixed(d).replace(/^-0\.0+$/, "0.000") : String(v));
  const fmtP = (p) => (p >= 0.9995 ? "1.00" : p <= 0.0005 ? "0.00" : p.toFixed(2));
  const compact = (v) =>
    Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 0.01 || v === 0 ? String(+v.toPrecision(3)) : v.toExponential(1);
  const debounce = (fn, ms) => {
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
  function divColor(v) {
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
  function seqColor(w) {
    w = clamp(Number(w) || 0, 0, 1);
    const a = [250, 251, 253];
    const b = [24, 62, 110];
    const c = a.map((x, j) => Math.round(x + Math.pow(w, 0.8) * (b[j] - x)));
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }
  const PALETTE = ["#2c6fad", "#c2412d", "#3d8b5a", "#8a5fb8", "#b08a1e", "#4a9aa8"];

  async function api(path, body) {
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
  async function latest(key, fn) {
    const n = (seqs[key] = (seqs[key] || 0) + 1);
    const r = await fn();
    return n === seqs[key] ? r : null;
  }
  const errText = (r) =>
    r.status === 503 ? `${r.data.error} — retrying when it is ready` : r.data.error || `HTTP ${r.status}`;
  function setError(card, text) {
    const box = card && card.querySelector(".error");
    if (box) box.textContent = text || "";
  }
  function splitTokens(s) {
    const parts = s.trim().split(/[\s,]+/).filter(Boolean);
    if (parts.length === 1 && /^[0-9]{2,}$/.test(parts[0])) return parts[0].split("");
    return parts;
  }

  // ---------------------------------------------------------------- models and status
  const S = { models: [], byId: {}, loaded: false };
  const byGroup = (g) => S.models.filter((m) => m.group === g);

  async function loadModels() {
    const r = await api("/api/models");
    if (!r.ok) {
      setStatus(r.status === 0 ? "offline — retrying" : `error: ${r.data.error}`, "bad");
      setTimeout(loadModels, 5000);
      return;
    }
    const prev = S.byId;
    S.models = r.data.models || [];
    S.byId = Object.fromEntries(S.models.map((m) => [m.id, m]));
    const first = !S.loaded;
    S.loaded = true;
    updateStatus();
    if (first) {
      setupParity();
      setupReverse();
      setupRuns();
    } else {
      const ready = S.models.filter((m) => m.status === "ready" && prev[m.id] && prev[m.id].status !== "ready");
      refreshOptionLabels();
      for (const m of ready) onReady(m);
      for (const m of S.models) if (m.group === "runs") updateRunStatus(m);
    }
    if (S.models.some((m) => m.status === "training")) setTimeout(loadModels, 2000);
  }
  function setStatus(text, state) {
    const s = $("#server-status");
    s.textContent = text;
    s.dataset.state = state;
  }
  function updateStatus() {
    const n = (st) => S.models.filter((m) => m.status === st).length;
    const parts = [`${n("ready")} of ${S.models.length} networks ready`];
    if (n("training")) parts.push(`${n("training")} training…`);
    if (n("failed")) parts.push(`${n("failed")} failed`);
    setStatus(parts.join(" · "), n("failed") ? "bad" : n("training") ? "wait" : "ok");
  }
  function onReady(m) {
    if (m.group === "parity") probeParity();
    else if (m.group === "reverse") probeReverse();
    else if (m.group === "runs") probeRun(m.id);
  }
  function modelLabel(m) {
    return m.status === "ready" ? m.title : `${m.title} (${m.status}…)`;
  }
  function refreshOptionLabels() {
    for (const o of $("#parity-model").options) if (S.byId[o.value]) o.textContent = modelLabel(S.byId[o.value]);
  }
  function chips(box, examples, pick) {
    box.replaceChildren(
      ...examples.map((ex) =>
        el("button", { type: "button", class: "chip", title: "use this input", onclick: () => pick(ex) }, ex)
      )
    );
  }

  // ---------------------------------------------------------------- 1. parity
  const P = {
    model: "",
    data: null, // the probe's answer
    dense: null,
    denseErr: "",
    other: null, // the other parity RNN on the same input
    otherErr: "",
    step: 0,
    edits: [], // interventions: {step, unit, op, value?}
    timer: 0,
    lastInput: null,
    ready: false,
  };
  const WINDOW = 96; // most columns shown in the unrolled view

  function setupParity() {
    const sel = $("#parity-model");
    const nets = byGroup("parity").filter((m) => m.task !== "dense");
    sel.replaceChildren(...nets.map((m) => el("option", { value: m.id }, modelLabel(m))));
    P.model = nets.length ? nets[0].id : "";
    const dense = S.byId["parity-dense"];
    if (dense) $("#dense-title").textContent = dense.title;
    else $("#dense-card").hidden = true;
    const examples = nets.length ? nets[0].examples : [];
    const input = $("#parity-input");
    chips($("#parity-examples"), examples, (ex) => {
      input.value = ex;
      probeParity();
    });
    input.value = examples[0] || "0 1 1 0 1";
    const later = debounce(() => probeParity(), 250);
    input.addEventListener("input", later);
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") probeParity();
    });
    sel.addEventListener("change", () => {
      P.model = sel.value;
      P.edits = [];
      probeParity({ keepStep: true });
    });
    const append = (b) => {
      input.value = (input.value.trim() + " " + b).trim();
      probeParity();
    };
    $("#parity-add-0").addEventListener("click", () => append("0"));
    $("#parity-add-1").addEventListener("click", () => append("1"));
    $("#parity-clear").addEventListener("click", () => {
      input.value = "";
      P.edits = [];
      probeParity();
      input.focus();
    });
    $("#parity-step-forward").addEventListener("click", () => go(P.step + 1));
    $("#parity-step-back").addEventListener("click", () => go(P.step - 1));
    $("#parity-reset").addEventListener("click", () => {
      stop();
      go(0);
    });
    $("#parity-play").addEventListener("click", () => (P.timer ? stop() : play()));
    $("#parity-slider").addEventListener("input", (e) => go(Number(e.target.value)));
    document.addEventListener("keydown", (e) => {
      const tag = (e.target && e.target.tagName) || "";
      if (/INPUT|SELECT|TEXTAREA|BUTTON/.test(tag) || !P.data || e.altKey || e.ctrlKey || e.metaKey) return;
      const r = $("#parity").getBoundingClientRect();
      if (r.bottom < 0 || r.top > window.innerHeight) return;
      if (e.key === "ArrowRight") go(P.step + 1);
      else if (e.key === "ArrowLeft") go(P.step - 1);
      else if (e.key === "Home") go(0);
      else if (e.key === "End") go(P.data.bits.length - 1);
      else return;
      e.preventDefault();
    });
    $("#parity-unrolled").addEventListener("click", (e) => {
      const u = e.target.closest(".unit");
      if (u) openMenu(u);
    });
    document.addEventListener("click", (e) => {
      const m = $("#unit-menu");
      if (!m.hidden && !m.contains(e.target) && !e.target.closest(".unit")) closeMenu();
    });
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape") closeMenu();
    });
    probeParity();
  }

  function parityLine() {
    return splitTokens($("#parity-input").value).join(" ");
  }

  async function probeParity(opts = {}) {
    const line = parityLine();
    const newInput = line !== P.lastInput;
    const cards = [$("#parity-rolled-card"), $("#parity-unrolled-card")];
    if (!line) {
      P.data = null;
      P.dense = null;
      P.denseErr = "";
      P.lastInput = line;
      P.edits = [];
      cards.forEach((c) => setError(c, ""));
      renderParity();
      markReady();
      return;
    }
    const n = line.split(" ").length;
    P.edits = P.edits.filter((e) => e.step < n);
    const body = { input: line };
    if (P.edits.length) body.options = { intervene: P.edits };
    const denseReq = S.byId["parity-dense"] && (newInput || !P.dense) ? probeDense(line) : null;
    const otherReq = probeOther(line);
    const r = await latest("parity", () => api(`/api/models/${encodeURIComponent(P.model)}/probe`, body));
    if (denseReq) await denseReq;
    await otherReq;
    if (!r) return;
    if (!r.ok) {
      cards.forEach((c) => setError(c, errText(r)));
      if (r.status === 503 && r.data.retry && S.byId[P.model].status === "ready")
        setTimeout(() => probeParity(opts), 1000 * r.data.retry);
      if (newInput) P.data = null;
    } else {
      cards.forEach((c) => setError(c, ""));
      const T = r.data.bits.length;
      if ((newInput && !opts.keepStep) || !P.data || P.data.bits.length !== T) P.step = T - 1;
      P.data = r.data;
      P.step = clamp(P.step, 0, T - 1);
    }
    P.lastInput = line;
    renderParity();
    markReady();
  }

  async function probeDense(line) {
    const r = await latest("dense", () => api("/api/models/parity-dense/probe", { input: line }));
    if (!r) return;
    P.dense = r.ok ? r.data : null;
    P.denseErr = r.ok ? "" : errText(r);
    if (r.status === 503 && r.data.retry) setTimeout(() => probeDense(parityLine()), 1000 * r.data.retry);
    renderDense();
  }

  function otherModel() {
    const nets = byGroup("parity").filter((m) => m.task !== "dense" && m.id !== P.model);
    return nets.length ? nets[0] : null;
  }

  async function probeOther(line) {
    const m = otherModel();
    $("#other-card").hidden = !m;
    if (!m) return;
    $("#other-title").textContent = m.title;
    const r = await latest("other", () => api(`/api/models/${encodeURIComponent(m.id)}/probe`, { input: line }));
    if (!r) return;
    P.other = r.ok ? r.data : null;
    P.otherErr = r.ok ? "" : errText(r);
    renderOther();
  }

  function markReady() {
    if (!P.ready) {
      P.ready = true;
      document.body.dataset.ready = "1";
    }
  }

  function go(t) {
    if (!P.data) return;
    const T = P.data.bits.length;
    const next = clamp(t, 0, T - 1);
    if (next === P.step) return;
    P.step = next;
    closeMenu();
    renderParity();
  }
  function play() {
    if (!P.data) return;
    if (P.step >= P.data.bits.length - 1) go(0);
    const btn = $("#parity-play");
    btn.textContent = "❚❚ pause";
    btn.classList.add("on");
    P.timer = setInterval(() => {
      if (!P.data || P.step >= P.data.bits.length - 1) stop();
      else go(P.step + 1);
    }, 700);
  }
  function stop() {
    clearInterval(P.timer);
    P.timer = 0;
    const btn = $("#parity-play");
    btn.textContent = "▶ play";
    btn.classList.remove("on");
  }

  function renderParity() {
    const d = P.data;
    const T = d ? d.bits.length : 0;
    $("#parity-step").textContent = d ? `${P.step + 1} / ${T}` : "0 / 0";
    const slider = $("#parity-slider");
    slider.max = String(Math.max(0, T - 1));
    slider.value = String(P.step);
    slider.disabled = !d;
    for (const id of ["#parity-step-back", "#parity-reset"]) $(id).disabled = !d || P.step === 0;
    $("#parity-step-forward").disabled = !d || P.step >= T - 1;
    $("#parity-play").disabled = !d || T < 2;
    renderRolled();
    renderUnrolled();
    renderMap();
    renderEdits();
    renderDense();
    renderOther();
  }

  // (a) the rolled-up cell
  function renderRolled() {
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
  function renderUnrolled() {
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
  function renderMap() {
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

  function renderDense() {
    const box = $("#dense-output");
    if (!box) return;
    box.replaceChildren();
    if (P.denseErr) {
      box.append(el("div", { class: "error", role: "alert" }, P.denseErr));
      return;
    }
    const d = P.dense;
    if (!d) return;
    const [row, wrong] = stepRow(d, d.even, d.p_even, null);
    box.append(
      row,
      el("div", { class: "note" }, "answers ", el("span", { class: "answers" }, d.even.join(" ")), ` · ${wrong ? `${wrong} wrong` : "all right"} · it has exactly ${d.n} inputs: shorter inputs are padded with 0s, longer ones it cannot read`)
    );
  }

  function renderOther() {
    const box = $("#other-output");
    if (!box) return;
    box.replaceChildren();
    if (P.otherErr) {
      box.append(el("div", { class: "error", role: "alert" }, P.otherErr));
      return;
    }
    const d = P.other;
    if (!d) return;
    const [row, wrong] = stepRow(d, d.steps.even, d.steps.p_even, d.steps.h);
    box.append(
      row,
      el("div", { class: "note" }, "answers ", el("span", { class: "answers" }, d.steps.even.join(" ")), ` · ${wrong ? `${wrong} wrong` : "all right"} · ${d.hidden} hidden units`)
    );
  }

  // interventions
  function editText(e) {
    return e.op === "clamp" ? `clamp to ${+Number(e.value).toFixed(3)}` : e.op;
  }
  function renderEdits() {
    const box = $("#parity-interventions");
    box.replaceChildren();
    if (!P.edits.length) {
      box.append(el("span", { class: "hint" }, "No interventions: click a unit square below to clamp, zero or flip it."));
      return;
    }
    const d = P.data;
    const changed = d && d.baseline ? d.steps.even.filter((a, t) => a !== d.baseline.even[t]).length : 0;
    box.append(el("span", { class: "label" }, "Interventions"));
    P.edits.forEach((e, i) =>
      box.append(
        el("span", { class: "chip edit" }, `t=${e.step + 1} · unit ${e.unit} · ${editText(e)}`,
          el("button", { type: "button", class: "x-btn", title: "remove", "aria-label": "remove intervention", onclick: () => removeEdit(i) }, "×"))
      )
    );
    box.append(
      el("button", { type: "button", class: "btn ghost small", onclick: () => { P.edits = []; probeParity(); } }, "clear all"),
      el("span", { class: "hint" }, d && d.baseline ? `${changed} answer${changed === 1 ? "" : "s"} changed (outlined)` : "")
    );
  }
  function removeEdit(i) {
    P.edits.splice(i, 1);
    probeParity();
  }
  function addEdit(edit) {
    P.edits = P.edits.filter((e) => !(e.step === edit.step && e.unit === edit.unit));
    P.edits.push(edit);
    P.edits.sort((a, b) => a.step - b.step || a.unit - b.unit);
    closeMenu();
    probeParity();
  }
  function openMenu(unit) {
    const t = Number(unit.dataset.step);
    const u = Number(unit.dataset.unit);
    const v = P.data.steps.h[t][u];
    const menu = $("#unit-menu");
    const valueIn = el("input", { type: "number", step: "0.1", min: "-5", max: "5", value: "0.5", "aria-label": "clamp value" });
    const has = P.edits.some((e) => e.step === t && e.unit === u);
    const op = (name, label, edit) => el("button", { type: "button", class: "btn small", "data-op": name, onclick: () => addEdit(edit()) }, label);
    menu.replaceChildren(
      ...[el("div", { class: "menu-head" }, `h${t + 1}[${u}] = ${fmt(v)}`),
      el("div", { class: "menu-row" },
        op("flip", "flip", () => ({ step: t, unit: u, op: "flip" })),
        op("zero", "zero", () => ({ step: t, unit: u, op: "zero" })),
        op("clamp-pos", "+1", () => ({ step: t, unit: u, op: "clamp", value: 1 })),
        op("clamp-neg", "−1", () => ({ step: t, unit: u, op: "clamp", value: -1 }))),
      el("div", { class: "menu-row" }, valueIn,
        op("clamp-value", "clamp", () => ({ step: t, unit: u, op: "clamp", value: Number(valueIn.value) || 0 }))),
      has
        ? el("div", { class: "menu-row" }, el("button", { type: "button", class: "btn ghost small", "data-op": "remove",
            onclick: () => { closeMenu(); removeEdit(P.edits.findIndex((e) => e.step === t && e.unit === u)); } }, "remove this edit"))
        : null].filter(Boolean)
    );
    valueIn.addEventListener("keydown", (e) => {
      if (e.key === "Enter") addEdit({ step: t, unit: u, op: "clamp", value: Number(valueIn.value) || 0 });
    });
    menu.hidden = false;
    const r = unit.getBoundingClientRect();
    const mw = menu.offsetWidth;
    menu.style.left = `${clamp(r.left + window.scrollX + r.width / 2 - mw / 2, 8, document.documentElement.clientWidth - mw - 8)}px`;
    menu.style.top = `${r.bottom + window.scrollY + 6}px`;
    document.querySelectorAll(".unit.open").forEach((x) => x.classList.remove("open"));
    unit.classList.add("open");
  }
  function closeMenu() {
    const m = $("#unit-menu");
    if (m) m.hidden = true;
    document.querySelectorAll(".unit.open").forEach((x) => x.classList.remove("open"));
  }

  // ---------------------------------------------------------------- 2. reversal
  const REV_NOTES = {
    sync: "writes one token per input token, while it reads: it must answer before it has read what it needs",
    reverse: "reads the whole input, then writes the answer from its final state",
  };
  function setupReverse() {
    const models = byGroup("reverse");
    const box = $("#reverse-cards");
    box.replaceChildren(
      ...models.map((m) =>
        el("div", { class: "card rev", "data-model": m.id },
          el("div", { class: "card-head" }, el("h3", null, m.title)),
          el("p", { class: "hint" }, m.id.endsWith("attention") ? "reads the whole input; at each output step attention looks back at the source" : REV_NOTES[m.task] || ""),
          el("div", { class: "error", role: "alert" }),
          el("div", { class: "result" }))
      )
    );
    if (!models.length) $("#reverse").hidden = true;
    const input = $("#reverse-input");
    const examples = [...new Set(models.flatMap((m) => m.examples))];
    chips($("#reverse-examples"), examples, (ex) => {
      input.value = ex;
      probeReverse();
    });
    input.value = examples[0] || "3 1 4";
    input.addEventListener("input", debounce(probeReverse, 250));
    $("#beam-size").addEventListener("change", probeReverse);
    probeReverse();
  }
  function probeReverse() {
    const line = splitTokens($("#reverse-input").value).join(" ");
    const beam = Number($("#beam-size").value);
    for (const m of byGroup("reverse")) {
      const card = document.querySelector(`#reverse-cards [data-model="${m.id}"]`);
      if (!line) {
        setError(card, "");
        card.querySelector(".result").replaceChildren(el("p", { class: "hint" }, "type some digits"));
        continue;
      }
      const body = { input: line };
      if (m.options.includes("beam") && beam > 1) body.options = { beam };
      latest(`rev:${m.id}`, () => api(`/api/models/${encodeURIComponent(m.id)}/probe`, body)).then((r) => {
        if (!r) return;
        setError(card, r.ok ? "" : errText(r));
        card.classList.toggle("failed", !r.ok);
        if (r.ok) renderByView(card.querySelector(".result"), r.data);
        else card.querySelector(".result").replaceChildren(el("span", { class: "output", hidden: true }));
      });
    }
  }

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
  function renderByView(box, d) {
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
    const W = 520;
    const H = 190;
    const L = 36;
    const Rm = 30;
    const Tp = 10;
    const B = 52;
    const X = (i) => L + (n <= 1 ? (W - L - Rm) / 2 : (i * (W - L - Rm)) / (n - 1));
    const Y = (p) => Tp + (1 - p) * (H - Tp - B);
    const svg = sv("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "P(label) after each word" });
    [0, 0.5, 1].forEach((v) => svg.append(sv("line", { x1: L, x2: W - Rm, y1: Y(v), y2: Y(v), class: "grid-line" }),
      sv("text", { x: L - 6, y: Y(v) + 4, "text-anchor": "end", class: "axis-text" }, String(v))));
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
      svg.append(sv("text", { x: X(i), y: H - B + 12, class: "axis-text word-tick", transform: `rotate(40 ${X(i)} ${H - B + 12})` }, String(tok).slice(0, 12)));
    });
    const legend = el("div", { class: "chart-legend" }, labels.map((lab, k) => {
      const sw = el("span", { class: "swatch" });
      sw.style.backgroundColor = PALETTE[k % PALETTE.length];
      return el("span", null, sw, String(lab));
    }));
    const last = d.p[n - 1] || [];
    const best = last.indexOf(Math.max(...last));
    box.replaceChildren(
      el("div", { class: "answer" }, labels[best] !== undefined ? `${labels[best]} (${fmt(last[best], 2)})` : ""),
      legend, svg, el("p", { class: "note" }, "P(label) after each prefix: the many-to-one network read word by word"));
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

  // ---------------------------------------------------------------- 3. runs
  const RUNS = {};
  function setupRuns() {
    const models = byGroup("runs");
    const box = $("#runs-cards");
    if (!models.length) {
      box.replaceChildren(el("p", { class: "hint" }, "No run folders are served. Name them at start-up: ", el("code", null, "rnnlab serve RUN_DIR …")));
      return;
    }
    box.replaceChildren(...models.map(runCard));
    for (const m of models) {
      loadMetrics(m.id);
      if (m.status === "ready" && m.examples.length) probeRun(m.id);
    }
  }
  function runCard(m) {
    const input = el("input", { type: "text", class: "run-input", autocomplete: "off", spellcheck: "false", placeholder: m.examples[0] || "input", "aria-label": `input for ${m.id}` });
    input.value = m.examples[0] || "";
    const opts = {};
    const optBox = el("div", { class: "run-opts" });
    for (const name of m.options) {
      if (name === "intervene") continue;
      let ctl;
      if (name === "beam") {
        ctl = el("select", null, [el("option", { value: "" }, "default"), ...[1, 2, 3, 4, 5].map((k) => el("option", { value: k }, String(k)))]);
      } else if (name === "pretokenized") {
        ctl = el("input", { type: "checkbox" });
      } else if (name === "temperature") {
        ctl = el("input", { type: "number", step: "0.1", min: "0", value: "1" });
      } else if (name === "seed") {
        ctl = el("input", { type: "number", step: "1", value: "0" });
      } else {
        ctl = el("input", { type: "text", placeholder: "default" });
      }
      opts[name] = ctl;
      ctl.addEventListener("change", () => probeRun(m.id));
      optBox.append(el("label", { class: "field small" }, el("span", { class: "label" }, name), ctl));
    }
    const file = el("input", { type: "file", accept: "image/png,image/jpeg", class: "file", "aria-label": "upload an image" });
    const fileWrap = el("label", { class: "field small upload" }, el("span", { class: "label" }, "or an image"), file);
    fileWrap.hidden = !/caption|image|vision/i.test(m.task);
    file.addEventListener("change", () => uploadRun(m.id, file));
    const go = el("button", { type: "button", class: "btn", onclick: () => probeRun(m.id) }, "probe");
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") probeRun(m.id);
    });
    const card = el("div", { class: "card run", "data-model": m.id },
      el("div", { class: "card-head" }, el("h3", null, m.title), el("span", { class: "badge", "data-state": m.status }, m.status),
        el("span", { class: "hint" }, `${m.id} · task ${m.task}`)),
      el("div", { class: "chips" }),
      el("div", { class: "run-bar" }, input, go),
      optBox, fileWrap,
      el("div", { class: "error", role: "alert" }),
      el("div", { class: "result" }),
      el("div", { class: "curve", hidden: true }));
    chips(card.querySelector(".chips"), m.examples, (ex) => {
      input.value = ex;
      probeRun(m.id);
    });
    RUNS[m.id] = { card, input, opts, file, fileWrap };
    return card;
  }
  function updateRunStatus(m) {
    const r = RUNS[m.id];
    if (!r) return;
    const b = r.card.querySelector(".badge");
    b.textContent = m.status;
    b.dataset.state = m.status;
    if (m.status === "ready") loadMetrics(m.id);
  }
  function runOptions(id) {
    const out = {};
    for (const [name, ctl] of Object.entries(RUNS[id].opts)) {
      if (ctl.type === "checkbox") {
        if (ctl.checked) out[name] = true;
        continue;
      }
      const v = ctl.value.trim();
      if (v === "") continue;
      out[name] = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
    }
    return out;
  }
  async function probeRun(id, body) {
    const r0 = RUNS[id];
    if (!r0) return;
    if (!body) {
      const line = r0.input.value.trim();
      if (!line) return setError(r0.card, "type an input or pick an example");
      body = { input: line };
    }
    const options = runOptions(id);
    if (Object.keys(options).length) body.options = options;
    r0.card.classList.add("busy");
    const r = await latest(`run:${id}`, () => api(`/api/models/${encodeURIComponent(id)}/probe`, body));
    r0.card.classList.remove("busy");
    if (!r) return;
    setError(r0.card, r.ok ? "" : errText(r));
    if (!r.ok) return;
    if (r.data.view === "caption") r0.fileWrap.hidden = false;
    renderByView(r0.card.querySelector(".result"), r.data);
  }
  function uploadRun(id, file) {
    const f = file.files && file.files[0];
    if (!f) return;
    if (f.size > 2000000) return setError(RUNS[id].card, `the image has ${f.size.toLocaleString()} bytes; the limit is 2,000,000`);
    const reader = new FileReader();
    reader.onload = () => probeRun(id, { image: String(reader.result) });
    reader.onerror = () => setError(RUNS[id].card, "could not read the file");
    reader.readAsDataURL(f);
  }
  async function loadMetrics(id) {
    const r = await api(`/api/models/${encodeURIComponent(id)}/metrics`);
    const box = RUNS[id] && RUNS[id].card.querySelector(".curve");
    if (!box) return;
    const rows = r.ok ? (r.data.rows || []).filter((x) => typeof x.step === "number") : [];
    box.hidden = !rows.length;
    box.replaceChildren();
    if (rows.length) box.append(curve(rows));
  }
  function curve(rows) {
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
  function lineChart(rows, left, right) {
    const W = 520;
    const H = 170;
    const L = 50;
    const Rm = 50;
    const Tp = 12;
    const B = 26;
    const steps = rows.map((r) => r.step);
    const sx0 = Math.min(...steps);
    const sx1 = Math.max(...steps);
    const X = (s) => L + (sx1 === sx0 ? 0.5 : (s - sx0) / (sx1 - sx0)) * (W - L - Rm);
    const svg = sv("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "training curve" });
    svg.append(sv("line", { x1: L, x2: W - Rm, y1: H - B, y2: H - B, class: "axis-line" }),
      sv("text", { x: L, y: H - 8, class: "axis-text" }, String(sx0)),
      sv("text", { x: W - Rm, y: H - 8, "text-anchor": "end", class: "axis-text" }, `step ${sx1}`));
    const series = (key, color, side) => {
      const pts = rows.filter((r) => typeof r[key] === "number" && isFinite(r[key]));
      if (!pts.length) return;
      let lo = Math.min(...pts.map((r) => r[key]));
      let hi = Math.max(...pts.map((r) => r[key]));
      if (key.includes("acc") && lo >= 0 && hi <= 1) [lo, hi] = [Math.min(lo, 0.5), 1];
      if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5];
      const Y = (v) => Tp + (1 - (v - lo) / (hi - lo)) * (H - Tp - B);
      const line = sv("polyline", { points: pts.map((r) => `${X(r.step).toFixed(1)},${Y(r[key]).toFixed(1)}`).join(" "), class: "series" });
      line.style.stroke = color;
      const ax = side === "left" ? L - 5 : W - Rm + 5;
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
    const legend = el("div", { class: "chart-legend" });
    [[left, PALETTE[1]], [right, PALETTE[0]]].forEach(([k, c]) => {
      if (!k) return;
      const sw = el("span", { class: "swatch" });
      sw.style.backgroundColor = c;
      legend.append(el("span", null, sw, k));
    });
    return el("div", null, legend, svg);
  }

  // ---------------------------------------------------------------- start
  loadModels();
})();
