/* The 需求清单 tab of the admin page (the administrator's and the stewards'): each station's form link with its
   QR code, then the needs in scope. Opening one shows the experts the ranking proposes and the local teams; the
   steward matches experts, schedules the help, marks it done, withdraws it, or publishes a solved one as a case.
   admin.js calls window.needsTab(auth) each time the tab opens. Everything is put in as text. */
"use strict";

window.needsTab = (() => {
  const { h, put, api, T, errorText } = cd;
  const N = T.needs;
  const L = N.labels;
  const box = () => document.getElementById("tab-needs");
  let auth = null;
  let filter = "";

  const path = (id, action = "") => `/api/admin/needs/${encodeURIComponent(id)}${action ? `/${action}` : ""}`;
  const stage = (n) => (n.status === "done" && n.outcome ? L.outcome[n.outcome] : L.status[n.status]);
  const options = (labels, chosen) => Object.entries(labels).map(([value, text]) => {
    const option = h("option", { value, text });
    option.selected = value === chosen;
    return option;
  });

  function error(where, err) {
    where.append(h("p", { class: "error", text: errorText(err) }));
  }

  /** A small form whose submit POSTs ``body()`` to the need's ``action`` and redraws the card. */
  function actionForm(n, card, action, title, fields, body, label) {
    const result = h("p", { class: "result small", role: "status" });
    const submit = h("button", { type: "submit", class: `small ${action}`, text: label });
    const form = h("form", { class: `need-${action}` }, h("h3", { text: title }), fields, h("div", { class: "actions" }, submit), result);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = body();
      if (values === null) return;
      submit.disabled = true;
      put(result);
      try {
        await api(path(n.need_id, action), { method: "POST", headers: auth, body: values });
        open(card, n.need_id);
      } catch (err) {
        submit.disabled = false;
        error(result, err);
      }
    });
    return form;
  }

  /** Checkboxes for experts not yet matched: the proposed ones, then each local team's members. */
  function matchForm(n, card) {
    const matched = new Set(n.experts.map((e) => e.expert_id));
    const pick = (e, extra) => {
      const input = h("input", { type: "checkbox", value: e.expert_id, "aria-label": e.name });
      return h("label", {}, input, h("span", {}, h("strong", { text: e.name }), extra ? ` · ${extra}` : ""));
    };
    const proposed = n.proposed.filter((p) => !matched.has(p.expert_id)).map((p) =>
      pick(p, [p.title, p.region, p.available ? N.free : N.busy].filter(Boolean).join(" · ")));
    const teams = n.teams.map((t) => {
      const members = t.members.filter((m) => !matched.has(m.expert_id));
      return members.length ? h("details", { class: "team" }, h("summary", { text: `${t.name}（${members.length}）` }),
        h("div", { class: "pick-list" }, members.map((m) => pick(m, m.title)))) : null;
    });
    const fields = [h("p", { class: "muted small", text: N.proposed }), h("div", { class: "pick-list proposed" }, proposed),
      h("p", { class: "muted small", text: N.teams }), teams];
    const note = h("p", { class: "result small" });
    const form = actionForm(n, card, "match", N.match, [...fields, note], () => {
      const ids = [...new Set(Array.from(form.querySelectorAll("input:checked"), (b) => b.value))];
      if (!ids.length) note.textContent = N.pickExperts;
      return ids.length ? { expert_ids: ids } : null;
    }, N.match);
    return form;
  }

  function scheduleForm(n, card) {
    const mode = h("select", { "aria-label": N.mode }, options(L.help, n.help_mode || n.help_wanted[0]));
    const when = h("input", { type: "datetime-local", "aria-label": N.when, required: true });
    const place = h("input", { "aria-label": N.place, maxlength: 300, value: n.help_place || "" });
    return actionForm(n, card, "schedule", N.schedule,
      [h("label", {}, N.mode, mode), h("label", {}, N.when, when), h("label", {}, N.place, place)],
      () => ({ help_mode: mode.value, help_at: when.value ? new Date(when.value).toISOString() : null, help_place: place.value }),
      N.save);
  }

  function doneForm(n, card) {
    const outcome = h("select", { "aria-label": N.outcome }, options(L.outcome, null));
    const note = h("textarea", { rows: 3, maxlength: 2000, "aria-label": N.note });
    const helped = h("input", { type: "number", min: 0, max: 100000, inputmode: "numeric", value: n.workers_affected, "aria-label": N.helped });
    return actionForm(n, card, "done", N.done,
      [h("label", {}, N.outcome, outcome), h("label", {}, N.note, note), h("label", {}, N.helped, helped)],
      () => ({ outcome: outcome.value, outcome_note: note.value, workers_helped: Number(helped.value || 0) }), N.finish);
  }

  function publishForm(n, card) {
    const title = h("input", { maxlength: 300, value: n.problem.slice(0, 40), "aria-label": N.title });
    const question = h("textarea", { rows: 3, "aria-label": N.question });
    question.value = n.problem;
    const answer = h("textarea", { rows: 4, "aria-label": N.answer });
    answer.value = n.outcome_note || "";
    return actionForm(n, card, "publish", N.publish,
      [h("label", {}, N.title, title), h("label", {}, N.question, question), h("label", {}, N.answer, answer)],
      () => ({ title: title.value, question: question.value, answer: answer.value }), N.publish);
  }

  /** The need's card opened: its matched experts and the forms its status allows. */
  async function open(card, id) {
    const detail = card.querySelector(".need-detail");
    put(detail, h("p", { class: "muted", text: T.loading }));
    let n;
    try {
      n = await api(path(id), { headers: auth });
    } catch (err) {
      put(detail);
      error(detail, err);
      return;
    }
    card.replaceWith(needCard(n, true));
  }

  function needCard(n, opened = false) {
    const live = ["submitted", "matched", "scheduled"].includes(n.status);
    const detail = h("div", { class: "need-detail" });
    const toggle = h("button", { type: "button", class: "secondary small open-need", text: opened ? N.close : N.open });
    const facts = [
      [N.station, n.station_name || n.station_id],
      [N.wanted, n.help_wanted.map((m) => L.help[m]).join("、")],
      [N.workers, n.workers_affected],
      [N.filed, cd.time(n.created_at)],
      [N.contact, `${n.contact_name} ${n.contact_phone}`],
    ];
    const card = h("article", { class: "need-card", "data-need": n.need_id, "data-status": n.status },
      h("header", { class: "need-head" }, h("strong", { text: n.enterprise }),
        h("span", { class: `status need-${n.status} ${n.outcome || ""}`, text: stage(n) }),
        h("span", { class: "badge", text: L.urgency[n.urgency] })),
      cd.longText(n.problem),
      h("dl", { class: "facts" }, facts.map(([k, v]) => h("div", {}, h("dt", { text: k }), h("dd", { text: v })))),
      h("div", { class: "actions" }, toggle), detail);
    toggle.addEventListener("click", () => (opened ? card.replaceWith(needCard(n)) : open(card, n.need_id)));
    if (!opened) return card;
    const withdraw = h("button", { type: "button", class: "secondary small withdraw", text: N.withdraw });
    withdraw.addEventListener("click", async () => {
      if (!window.confirm(N.withdrawConfirm)) return;
      try {
        await api(path(n.need_id, "withdraw"), { method: "POST", headers: auth });
        open(card, n.need_id);
      } catch (err) {
        error(detail, err);
      }
    });
    const plan = n.help_at ? `${L.help[n.help_mode] || ""} · ${cd.time(n.help_at)} · ${n.help_place || ""}` : null;
    put(detail,
      h("h3", { text: N.matched }),
      n.experts.length ? h("ul", { class: "need-experts" }, n.experts.map((e) => h("li", { "data-expert": e.expert_id },
        h("strong", { text: e.name }), ` · ${L.match[e.state]}`))) : h("p", { class: "muted", text: N.noMatched }),
      plan ? h("p", { class: "plan", text: plan }) : null,
      n.outcome_note ? h("p", { class: "text", text: n.outcome_note }) : null,
      n.published_case_id ? h("p", { class: "note", text: N.published + n.published_case_id }) : null,
      live ? matchForm(n, card) : null,
      ["matched", "scheduled"].includes(n.status) ? scheduleForm(n, card) : null,
      n.status === "scheduled" ? doneForm(n, card) : null,
      n.status === "done" && n.outcome !== "not_solved" && !n.published_case_id ? publishForm(n, card) : null,
      live ? h("div", { class: "actions" }, withdraw) : null);
    return card;
  }

  async function stationLinks(where) {
    let forms;
    try {
      forms = await api("/api/admin/need-forms", { headers: auth });
    } catch (err) {
      error(where, err);
      return;
    }
    put(where, h("h2", { text: N.formsTitle }), h("p", { class: "muted", text: N.formsHint }),
      h("ul", { class: "need-forms" }, forms.map((f) => h("li", { "data-station": f.station_id },
        h("strong", { text: f.name }), " ", h("code", { class: "form-link", text: f.url }), " ",
        h("button", { type: "button", class: "secondary small", text: N.qr, onclick: () =>
          cd.download(`/api/admin/need-forms/${encodeURIComponent(f.station_id)}/qr.png`, auth, `need-form-${f.station_id}.png`)
            .catch((err) => error(where, err)) })))));
  }

  async function load() {
    const el = box();
    const links = h("section", { class: "card" });
    const list = h("div", { id: "needs", class: "need-list" }, h("p", { class: "muted", text: T.loading }));
    const select = h("select", { id: "needs-filter", "aria-label": N.filter },
      h("option", { value: "", text: N.all }), options(L.status, filter));
    select.addEventListener("change", () => {
      filter = select.value;
      load();
    });
    put(el, links, h("div", { class: "toolbar" }, h("h2", { text: N.listTitle }), h("label", { class: "inline" }, N.filter, select)), list);
    stationLinks(links);
    let needs;
    try {
      needs = await api(`/api/admin/needs${filter ? `?status=${encodeURIComponent(filter)}` : ""}`, { headers: auth });
    } catch (err) {
      put(list);
      error(list, err);
      return;
    }
    put(list, needs.length ? needs.map((n) => needCard(n)) : h("p", { class: "muted", text: N.empty }));
  }

  return (token) => {
    auth = token;
    load();
  };
})();
