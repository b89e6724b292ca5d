// The served networks, shared by every section: S is filled by app.js's loadModels.

export const S = { models: [], byId: {}, loaded: false };
export const byGroup = (g) => S.models.filter((m) => m.group === g);
export function modelLabel(m) {
  return m.status === "ready" ? m.title : `${m.title} (${m.status}…)`;
}
