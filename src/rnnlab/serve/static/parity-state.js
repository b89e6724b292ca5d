// The parity section's state, shared by its controller (parity.js) and its views.

export const P = {
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
export const WINDOW = 96; // most columns shown in the unrolled view
