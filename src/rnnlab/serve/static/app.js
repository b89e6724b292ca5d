// rnnlab lab: the page of `rnnlab serve`. Plain ES2020 modules, no dependencies, no build
// step, no network beyond this server's JSON API (/api/models). The CSP forbids inline code
// and styles, so every handler is attached in the modules and dynamic styles go through the
// CSSOM (element.style). This is the entry point: it loads the networks, keeps the status
// line and hands each section its start (parity.js, reverse.js, runs.js).
import { $, api } from "./dom.js";
import { S, modelLabel } from "./models.js";
import { setupParity, probeParity } from "./parity.js";
import { setupReverse, probeReverse } from "./reverse.js";
import { setupRuns, updateRunStatus, probeRun } from "./runs.js";

// ---------------------------------------------------------------- models and status
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
function refreshOptionLabels() {
  for (const o of $("#parity-model").options) if (S.byId[o.value]) o.textContent = modelLabel(S.byId[o.value]);
}

// ---------------------------------------------------------------- start
loadModels();
