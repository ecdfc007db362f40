/* The roster forms of the admin page: one expert or one site added or edited, saved with
   PUT /api/admin/{experts|sites}/{id} (the checks of an import line). The form starts from the
   stored record, so fields it does not show (a Telegram binding, a file's own extra fields)
   are sent back unchanged. */
"use strict";

window.roster = (() => {
  const { h, api, T, errorText } = cd;
  const R = T.roster;
  const LIST = /[、,，;；\n]+/;

  const FIELDS = {
    experts: [
      { key: "id", type: "code" },
      { key: "name", required: true },
      { key: "title" },
      { key: "org" },
      { key: "region" },
      { key: "industries", type: "list" },
      { key: "skills", type: "list", required: true },
      { key: "bio", type: "textarea" },
      { key: "max_open_tickets", type: "number" },
      { key: "active", type: "checkbox" },
    ],
    sites: [
      { key: "code", type: "code" },
      { key: "name", required: true },
      { key: "org" },
      { key: "region" },
      { key: "industry" },
      { key: "active", type: "checkbox" },
    ],
  };
  const KEY = { experts: "id", sites: "code" };

  function input(field, value, isNew) {
    const label = R.fields[field.key];
    const id = `roster-${field.key}`;
    let control;
    if (field.type === "textarea" || field.type === "list") {
      control = h("textarea", { id, rows: 3 });
      control.value = field.type === "list" ? (value || []).join("、") : value || "";
    } else if (field.type === "checkbox") {
      control = h("input", { id, type: "checkbox" });
      control.checked = value !== false;
      Object.assign(control.style, { width: "24px", height: "24px", margin: "0" });
    } else {
      control = h("input", { id, type: field.type === "number" ? "number" : "text",
        min: field.type === "number" ? 0 : null, readonly: field.type === "code" && !isNew });
      control.value = value === undefined || value === null ? "" : String(value);
    }
    const hint = R.hints[field.key];
    if (hint) control.setAttribute("aria-describedby", `${id}-hint`);
    if (field.required || field.type === "code") control.required = true;
    const row = h("div", { class: field.type === "checkbox" ? "field check" : "field", "data-field": field.key },
      h("label", { for: id, text: label }), control,
      hint ? h("p", { id: `${id}-hint`, class: "muted small", text: hint }) : null);
    return { field, control, row };
  }

  function read({ field, control }) {
    if (field.type === "checkbox") return control.checked;
    const text = control.value.trim();
    if (field.type === "list") return text.split(LIST).map((s) => s.trim()).filter(Boolean);
    if (field.type === "number") return text === "" ? undefined : Number(text);
    return text === "" ? null : text;
  }

  /** The form for ``record`` of ``kind`` ("experts" or "sites"; record null: a new one).
      ``onSaved(answer, record)`` runs after a save with the API's answer. */
  function editor(kind, record, auth, onSaved) {
    const isNew = record === null;
    const inputs = FIELDS[kind].map((f) => input(f, record ? record[f.key] : undefined, isNew));
    const result = h("div", { class: "result", role: "status" });
    const save = h("button", { type: "submit", text: isNew ? R.add : R.save });
    const cancel = h("button", { type: "button", class: "secondary", text: R.cancel });
    const form = h("form", { class: "card roster-form", "data-kind": kind, novalidate: true },
      h("h2", { text: isNew ? R.newTitle[kind] : R.editTitle[kind].replace("{name}", record.name) }),
      ...inputs.map((i) => i.row),
      h("div", { class: "actions" }, save, cancel), result);
    cancel.addEventListener("click", () => form.remove());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      inputs.forEach((i) => i.control.removeAttribute("aria-invalid"));
      const values = { ...(record || {}) };
      const missing = [];
      for (const i of inputs) {
        const value = read(i);
        if (value === undefined || value === null) delete values[i.field.key];
        else values[i.field.key] = value;
        const empty = value === null || value === undefined || (Array.isArray(value) && !value.length);
        if ((i.field.required || i.field.type === "code") && empty) missing.push(i);
      }
      if (missing.length) {
        missing.forEach((i) => i.control.setAttribute("aria-invalid", "true"));
        put(result, R.missing + missing.map((i) => R.fields[i.field.key]).join("、"));
        missing[0].control.focus();
        return;
      }
      const active = inputs.find((i) => i.field.key === "active");
      if (!isNew && record.active !== false && active && !active.control.checked
          && !window.confirm(R.deactivateWarn[kind].replace("{name}", values.name))) return;
      const key = values[KEY[kind]];
      save.disabled = true;
      try {
        const answer = await api(`/api/admin/${kind}/${encodeURIComponent(key)}`,
          { method: "PUT", headers: auth, body: values });
        form.remove();
        onSaved(answer, values);
      } catch (err) {
        save.disabled = false;
        const where = /field '([a-z_]+)'/.exec(err.detail || "");
        const bad = where && inputs.find((i) => i.field.key === where[1]);
        if (bad) bad.control.setAttribute("aria-invalid", "true");
        put(result, (bad ? `${R.fields[bad.field.key]}：` : "") + errorText(err));
      }
    });
    return form;
  }

  function put(el, text) {
    el.replaceChildren(h("p", { class: "error", text }));
  }

  /** What a save did, in words: saved, tickets passed on, the index being rebuilt. */
  function savedText(answer, name) {
    const parts = [R.saved[answer.outcome].replace("{name}", name)];
    if (answer.released_tickets) parts.push(R.released.replace("{n}", answer.released_tickets));
    if (answer.reindex) parts.push(R.reindexing);
    return parts.join(" ");
  }

  return { editor, savedText };
})();
