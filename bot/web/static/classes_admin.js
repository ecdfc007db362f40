/* The 课程 tab of the admin page (the administrator: every class; a steward: their stations' and
   regions'): classes added, edited or cancelled with PUT /api/admin/classes/{id} (the checks of a
   classes.jsonl line), the recording link, the sign-ups with attendance ticks, and the door QR code.
   admin.js calls window.classesTab(auth) each time the tab opens. */
"use strict";

window.classesTab = (() => {
  const { h, put, api, T, errorText } = cd;
  const C = T.classes;
  const box = () => document.getElementById("tab-classes");
  const LIST = /[、,，;；\n]+/;
  const FIELDS = [
    { key: "id", type: "code" },
    { key: "title", required: true },
    { key: "kind", type: "kind" },
    { key: "teacher_id" },
    { key: "starts_at", type: "datetime", required: true },
    { key: "minutes", type: "number" },
    { key: "place" },
    { key: "online_url", type: "url" },
    { key: "topics", type: "list" },
    { key: "description", type: "textarea" },
    { key: "capacity", type: "number" },
    { key: "recording_url", type: "url" },
    { key: "station_id" },
    { key: "region" },
    { key: "active", type: "checkbox" },
  ];
  let auth = null;

  const WHEN = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "numeric",
    day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });

  function error(where, err) {
    put(where, h("p", { class: "error", text: errorText(err) }));
  }

  function control(field, value, isNew) {
    const id = `class-${field.key}`;
    let el;
    if (field.type === "textarea" || field.type === "list") {
      el = h("textarea", { id, rows: 3 });
      el.value = field.type === "list" ? (value || []).join("、") : value || "";
    } else if (field.type === "checkbox") {
      el = h("input", { id, type: "checkbox" });
      el.checked = value !== false;
      Object.assign(el.style, { width: "24px", height: "24px", margin: "0" });
    } else if (field.type === "kind") {
      el = h("select", { id }, Object.entries(C.kinds).map(([k, label]) => h("option", { value: k, text: label })));
      el.value = value || "open";
    } else {
      const type = { number: "number", datetime: "datetime-local", url: "url" }[field.type] || "text";
      el = h("input", { id, type, min: field.type === "number" ? 1 : null, readonly: field.type === "code" && !isNew });
      el.value = value === undefined || value === null ? "" : field.type === "datetime" ? String(value).slice(0, 16) : String(value);
    }
    if (field.required || field.type === "code") el.required = true;
    return { field, el, row: h("div", { class: field.type === "checkbox" ? "field check" : "field" },
      h("label", { for: id, text: C.fields[field.key] }), el) };
  }

  function value({ field, el }) {
    if (field.type === "checkbox") return el.checked;
    const text = el.value.trim();
    if (field.type === "list") return text.split(LIST).map((s) => s.trim()).filter(Boolean);
    if (field.type === "number") return text === "" ? null : Number(text);
    return text === "" ? null : text;
  }

  /** The form of one class (record null: a new one). */
  function editor(record, reload) {
    const isNew = record === null;
    const inputs = FIELDS.map((f) => control(f, record ? record[f.key] : undefined, isNew));
    const result = h("div", { class: "result", role: "status" });
    const form = h("form", { class: "card roster-form class-editor", novalidate: true },
      h("h2", { text: isNew ? C.add : `${C.edit}：${record.title}` }), ...inputs.map((i) => i.row),
      h("div", { class: "actions" }, h("button", { type: "submit", text: C.save }),
        h("button", { type: "button", class: "secondary", text: C.cancel, onclick: () => form.remove() })),
      result);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = { ...(record || {}) };
      const missing = [];
      for (const i of inputs) {
        i.el.removeAttribute("aria-invalid");
        const v = value(i);
        if (v === null) delete values[i.field.key];
        else values[i.field.key] = v;
        if ((i.field.required || i.field.type === "code") && v === null) missing.push(i);
      }
      if (missing.length) {
        missing.forEach((i) => i.el.setAttribute("aria-invalid", "true"));
        put(result, h("p", { class: "error", text: C.missing + missing.map((i) => C.fields[i.field.key]).join("、") }));
        return;
      }
      try {
        const saved = await api(`/api/admin/classes/${encodeURIComponent(values.id)}`, { method: "PUT", headers: auth, body: values });
        form.remove();
        const parts = [C.saved[saved.outcome].replace("{title}", values.title)];
        if (saved.announced) parts.push(C.announced.replace("{n}", saved.announced));
        reload(parts.join(" "));
      } catch (err) {
        const where = /field '([a-z_]+)'/.exec(err.detail || "");
        const bad = where && inputs.find((i) => i.field.key === where[1]);
        if (bad) bad.el.setAttribute("aria-invalid", "true");
        error(result, err);
      }
    });
    return form;
  }

  /** The sign-ups of a class with a checkbox each: ticked attended, saved together. */
  async function signups(c, where) {
    let rows;
    try {
      rows = await api(`/api/admin/classes/${encodeURIComponent(c.class_id)}/signups`, { headers: auth });
    } catch (err) {
      error(where, err);
      return;
    }
    if (!rows.length) {
      put(where, h("p", { class: "muted", text: C.noSignups }));
      return;
    }
    const result = h("p", { role: "status" });
    const ticks = rows.map((s) => {
      const tick = h("input", { type: "checkbox", value: s.signup_id, disabled: Boolean(s.cancelled_at) });
      tick.checked = Boolean(s.attended_at);
      Object.assign(tick.style, { width: "22px", height: "22px", margin: "0" });
      return h("label", { class: "signup-row" }, tick,
        `${s.name} · ${s.enterprise} · ${s.phone}${s.cancelled_at ? C.signupCancelled : ""}`);
    });
    const save = h("button", { type: "button", class: "small", text: C.saveAttendance });
    save.addEventListener("click", async () => {
      const present = ticks.map((t) => t.querySelector("input")).filter((b) => b.checked && !b.disabled).map((b) => b.value);
      try {
        await api(`/api/admin/classes/${encodeURIComponent(c.class_id)}/attendance`,
          { method: "POST", headers: auth, body: { present } });
        result.textContent = C.attendanceSaved.replace("{n}", present.length);
      } catch (err) {
        result.textContent = errorText(err);
      }
    });
    put(where, h("fieldset", { class: "signup-list" }, h("legend", { text: C.attended }), ...ticks), save, result);
  }

  async function doorCode(c, where) {
    try {
      const url = await cd.blobUrl(`/api/admin/classes/${encodeURIComponent(c.class_id)}/door.png`, auth);
      put(where, h("img", { class: "door-qr", src: url, alt: `${C.door}：${c.title}` }), h("p", { class: "muted small", text: C.doorHint }));
    } catch (err) {
      error(where, err);
    }
  }

  function card(c, edit, reload) {
    const more = h("div", { class: "class-more" });
    const status = !c.active ? C.cancelled : new Date(c.starts_at) < new Date() ? C.past : "";
    const seats = c.capacity ? `${c.taken}/${c.capacity}` : String(c.taken);
    return h("section", { class: "card class-card", "data-class": c.class_id },
      h("h3", {}, c.title, h("span", { class: "class-kind", text: C.kinds[c.kind] || c.kind }),
        status ? h("span", { class: "status", text: status }) : null),
      h("p", { class: "muted", text: `${c.class_id} · ${WHEN.format(new Date(c.starts_at))} · ${c.teacher || ""} · ${C.taken.replace("{n}", seats)}` }),
      c.recording_url ? h("p", { class: "small" }, h("a", { href: c.recording_url, rel: "noopener noreferrer", text: c.recording_url })) : null,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary small", text: C.edit, "aria-label": `${C.edit}：${c.title}`, onclick: () => edit(c.class_id) }),
        h("button", { type: "button", class: "secondary small signups", text: C.signups, "aria-label": `${C.signups}：${c.title}`, onclick: () => signups(c, more) }),
        h("button", { type: "button", class: "secondary small", text: C.door, "aria-label": `${C.door}：${c.title}`, onclick: () => doorCode(c, more) })),
      more);
  }

  async function load(message = "") {
    const root = box();
    const formBox = h("div", {});
    const note = h("p", { class: "note", role: "status", text: message });
    cd.show(note, Boolean(message));
    const list = h("div", {}, h("p", { class: "muted", text: T.loading }));
    const reload = (text) => load(text);
    const edit = async (id) => {
      try {
        const record = await api(`/api/admin/classes/${encodeURIComponent(id)}`, { headers: auth });
        put(formBox, editor(record, reload));
        formBox.scrollIntoView({ block: "start" });
      } catch (err) {
        error(formBox, err);
      }
    };
    put(root, h("p", { class: "muted", text: C.intro }),
      h("div", { class: "toolbar" }, h("button", { type: "button", class: "secondary", id: "add-class", text: C.add,
        onclick: () => put(formBox, editor(null, reload)) })),
      formBox, note, list);
    try {
      const classes = await api("/api/admin/classes", { headers: auth });
      put(list, classes.length ? classes.map((c) => card(c, edit, reload)) : h("p", { class: "muted", text: C.empty }));
    } catch (err) {
      error(list, err);
    }
  }

  return (token) => {
    auth = token;
    load();
  };
})();
