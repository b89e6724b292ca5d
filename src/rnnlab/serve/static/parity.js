// Section 1, parity step by step: the controls, the probes, stepping and playing, and the
// interventions menu. The pictures are drawn by parity-views.js and parity-others.js.
import { $, el, clamp, fmt, debounce, api, latest, errText, setError, splitTokens, chips } from "./dom.js";
import { S, byGroup, modelLabel } from "./models.js";
import { P } from "./parity-state.js";
import { renderRolled, renderUnrolled, renderMap, editText } from "./parity-views.js";
import { renderDense, renderOther } from "./parity-others.js";

export function setupParity() {
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

export async function probeParity(opts = {}) {
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

// interventions
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
