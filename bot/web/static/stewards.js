/* The 服务管家 tab of the admin page (the administrator's): the stewards with the stations and
   regions they look after, a form to add or change one, and their login links as QR codes.
   admin.js calls window.stewardsTab(auth) each time the tab opens. */
"use strict";

window.stewardsTab = (() => {
  const { h, put, api, T, errorText } = cd;
  const S = T.stewards;
  const box = () => document.getElementById("tab-stewards");
  let auth = null;
  let stations = [];

  function error(where, err) {
    where.append(h("p", { class: "error", text: errorText(err) }));
  }

  /** The form of one steward (null: a new one); saved with PUT /api/admin/stewards/{id}. */
  function form(steward, reload) {
    const isNew = steward === null;
    const id = h("input", { id: "steward-id", value: isNew ? "" : steward.steward_id, readonly: !isNew, required: true });
    const name = h("input", { id: "steward-name", value: isNew ? "" : steward.name, required: true });
    const regions = h("input", { id: "steward-regions", value: isNew ? "" : steward.regions.join("、") });
    const picks = stations.map((s) => {
      const box = h("input", { type: "checkbox", value: s.id });
      box.checked = !isNew && steward.station_ids.includes(s.id);
      return h("label", {}, box, `${s.name}${s.region ? `（${s.region}）` : ""}`);
    });
    const active = h("input", { id: "steward-active", type: "checkbox" });
    active.checked = isNew || steward.active;
    Object.assign(active.style, { width: "22px", height: "22px" });
    const result = h("div", { class: "result", role: "status" });
    const el = h("form", { class: "card roster-form steward-form" },
      h("h2", { text: isNew ? S.add : `${S.edit}：${steward.name}` }),
      h("label", { for: "steward-id", text: S.id }), id,
      h("label", { for: "steward-name", text: S.name }), name,
      h("fieldset", {}, h("legend", { text: S.stations }), ...(picks.length ? picks : [h("p", { class: "muted", text: S.noStations })])),
      h("label", { for: "steward-regions", text: S.regions }), regions,
      h("p", { class: "muted small", text: S.regionsHint }),
      h("div", { class: "field check" }, h("label", { for: "steward-active", text: S.active }), active),
      h("div", { class: "actions" }, h("button", { type: "submit", text: S.save }),
        h("button", { type: "button", class: "secondary", text: S.cancel, onclick: () => el.remove() })),
      result);
    el.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {
        name: name.value.trim(),
        station_ids: picks.map((p) => p.querySelector("input")).filter((b) => b.checked).map((b) => b.value),
        regions: regions.value.split(/[、,，;；\s]+/).map((r) => r.trim()).filter(Boolean),
        active: active.checked,
      };
      try {
        await api(`/api/admin/stewards/${encodeURIComponent(id.value.trim())}`, { method: "PUT", headers: auth, body });
        el.remove();
        reload();
      } catch (err) {
        put(result);
        error(result, err);
      }
    });
    return el;
  }

  /** A new login link, shown with its QR code (the earlier link stops working). */
  async function issue(steward, cell) {
    if (steward.login_expires_at && !window.confirm(S.issueWarn.replace("{name}", steward.name))) return;
    try {
      const issued = await api(`/api/admin/stewards/${encodeURIComponent(steward.steward_id)}/token`, { method: "POST", headers: auth });
      const qr = h("img", { class: "login-qr", alt: S.scanHint,
        src: URL.createObjectURL(new Blob([issued.qr_svg], { type: "image/svg+xml" })) });
      put(cell, h("input", { class: "login-link", readonly: true, value: issued.login_url, "aria-label": S.issue }));
      // on a row of its own, the table's full width: in sight on a phone too
      const row = cell.closest("tr");
      if (row.nextElementSibling && row.nextElementSibling.classList.contains("login-qr-row")) row.nextElementSibling.remove();
      row.after(h("tr", { class: "login-qr-row" }, h("td", { colspan: row.children.length },
        h("figure", { class: "login-qr-box" }, qr, h("figcaption", { class: "muted small", text: S.scanHint })))));
    } catch (err) {
      error(cell, err);
    }
  }

  async function load() {
    const el = box();
    const editor = h("div", { id: "steward-form" });
    const add = h("button", { type: "button", id: "add-steward", class: "secondary", text: S.add });
    const body = h("tbody", { id: "stewards" });
    put(el, h("p", { class: "muted", text: S.intro }), h("div", { class: "toolbar" }, add), editor,
      h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, ...[S.name, S.scope, S.state, S.login].map((t) => h("th", { text: t })))), body)));
    let list;
    try {
      [stations, list] = await Promise.all([
        api("/api/admin/stations", { headers: auth }), api("/api/admin/stewards", { headers: auth })]);
    } catch (err) {
      error(el, err);
      return;
    }
    const names = Object.fromEntries(stations.map((s) => [s.id, s.name]));
    add.addEventListener("click", () => put(editor, form(null, load)));
    put(body, ...(list.length ? list.map((s) => {
      const cell = h("td", { class: "login-cell" });
      if (s.active) {
        cell.append(h("button", { type: "button", class: "secondary small issue", text: s.login_expires_at ? S.issueAgain : S.issue,
          onclick: () => issue(s, cell) }));
      }
      return h("tr", { "data-steward": s.steward_id },
        h("td", {}, h("strong", { text: s.name }), h("div", {}, h("code", { text: s.steward_id })),
          h("button", { type: "button", class: "secondary small", text: S.edit, onclick: () => put(editor, form(s, load)) })),
        h("td", { text: [...s.station_ids.map((id) => names[id] || id), ...s.regions].join("、") }),
        h("td", { text: s.active ? S.on : S.off }),
        cell);
    }) : [h("tr", {}, h("td", { colspan: 4, class: "muted", text: S.empty }))]));
  }

  return (token) => {
    auth = token;
    load();
  };
})();
