// Section 2, reversal: one card per network on the same digits.
import { $, el, debounce, api, latest, errText, setError, splitTokens, chips } from "./dom.js";
import { byGroup } from "./models.js";
import { renderByView } from "./views.js";

const REV_NOTES = {
  sync: "writes one token per input token, while it reads: it must answer before it has read what it needs",
  reverse: "reads the whole input, then writes the answer from its final state",
};
export function setupReverse() {
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
export function probeReverse() {
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
