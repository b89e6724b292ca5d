// Section 3, run folders: one card per run, probed through its own view.
import { $, el, api, latest, errText, setError, chips } from "./dom.js";
import { byGroup } from "./models.js";
import { renderByView } from "./views.js";
import { curve } from "./chart.js";

const RUNS = {};
export function setupRuns() {
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
export function updateRunStatus(m) {
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
export async function probeRun(id, body) {
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
