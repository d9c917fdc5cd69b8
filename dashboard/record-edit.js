// The user's own hand on a record: edit its JSON, and decide about a newer translation kept beside an edit.
// Every change names the version it was made against, so a change made elsewhere first is never overwritten.

import { describeError } from "./api.js";
import { formatTime, h, prettyJson, replace, userText } from "./dom.js";
import { recordDocument } from "./record-doc.js";

function failure(error) {
  if (error.status === 412) return "The record changed meanwhile; it has been read again.";
  return describeError(error, "edit");
}

// A card with the translation waiting beside the user's version, and buttons to use it or keep the user's.
export function proposalCard(api, summaryId, record, onChange) {
  const proposal = record.proposal;
  const message = h("p", { class: "state", role: "status", "aria-live": "polite" });
  const act = (call) => async (event) => {
    const buttons = event.currentTarget.parentElement.querySelectorAll("button");
    buttons.forEach((button) => { button.disabled = true; });
    try {
      await call(summaryId, record.system, record.version);
      onChange();
    } catch (error) {
      message.dataset.kind = "error";
      replace(message, failure(error));
      if (error.status === 412) onChange();
      else buttons.forEach((button) => { button.disabled = false; });
    }
  };
  const shown = { system: record.system, document: proposal.document, schema_version: proposal.lineage.schema_version };
  return h("section", { class: "card proposal", "aria-labelledby": "proposal-heading" },
    h("h3", { id: "proposal-heading" }, "A newer translation is waiting"),
    h("p", { class: "muted" }, "You edited this record, so the translation made ",
      h("time", { datetime: proposal.proposed_at }, formatTime(proposal.proposed_at)),
      " was kept beside your version instead of replacing it."),
    recordDocument(api, `${summaryId}/proposal`, shown, { level: 4 }),
    h("div", { class: "record-actions" },
      h("button", { type: "button", class: "accept-proposal", dataset: { focusKey: "accept" },
        onclick: act((...args) => api.acceptProposal(...args)) }, "Use the new translation"),
      h("button", { type: "button", class: "secondary dismiss-proposal", dataset: { focusKey: "dismiss" },
        onclick: act((...args) => api.dismissProposal(...args)) }, "Keep my version")),
    message);
}

// An "Edit" button that opens the record's JSON for editing; saving replaces the document as one JSON Patch.
export function editControl(api, summaryId, record, onChange) {
  const area = h("textarea", { class: "json-editor", rows: 14, spellcheck: "false", dataset: { focusKey: "json-editor" },
    "aria-label": `${record.system} JSON to edit` });
  const message = h("p", { class: "state", role: "status", "aria-live": "polite" });
  const save = h("button", { type: "button", class: "save-edit" }, "Save");
  const form = h("div", { class: "record-editor", hidden: true }, area,
    h("div", { class: "record-actions" }, save,
      h("button", { type: "button", class: "secondary", onclick: () => { form.hidden = true; } }, "Cancel")),
    message);
  save.addEventListener("click", async () => {
    let document;
    try {
      document = JSON.parse(area.value);
    } catch (error) {
      message.dataset.kind = "error";
      replace(message, `Not valid JSON: ${error.message}`); // the message quotes the text
      return;
    }
    save.disabled = true;
    try {
      await api.editRecord(summaryId, record.system, record.version, [{ op: "replace", path: "", value: document }]);
      onChange();
    } catch (error) {
      message.dataset.kind = "error";
      replace(message, failure(error));
      if (error.status === 412) onChange();
    } finally {
      save.disabled = false;
    }
  });
  const open = h("button", { type: "button", class: "secondary edit-record", dataset: { focusKey: "edit" },
    onclick: () => {
      area.value = prettyJson(record.document);
      replace(message);
      form.hidden = false;
      area.focus();
    } }, "Edit");
  return [open, form];
}

// The text of an open editor when the record it edits is still at the same version (a change to something else
// re-renders the view), else null: a draft of an older version is not carried over, to overwrite no newer one unseen.
export function openDraft(container, record) {
  const area = container.querySelector(".record-editor:not([hidden]) .json-editor");
  const shown = container.querySelector(".record-card")?.dataset.version;
  return area && record && shown === String(record.version) ? area.value : null;
}

export function reopenDraft(container, text) {
  const form = container.querySelector(".record-editor");
  if (!form) return;
  form.hidden = false;
  form.querySelector(".json-editor").value = text;
}

// Who wrote the version shown: the user's own edit, or a translation.
export function authorNote(record) {
  if (record.author !== "user") return null;
  return h("span", { class: "author-badge", dataset: { author: "user" } },
    "edited by ", record.author_name ? userText(record.author_name) : "you");
}
