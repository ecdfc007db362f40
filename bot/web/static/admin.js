/* The admin pages: sites and QR downloads, candidate cases to publish, experts and their
   login links, statistics charts with the notifications given up on, and the index rebuild. The admin token stays in
   sessionStorage (gone when the tab closes). */
"use strict";

(() => {
  const { h, put, api, T, errorText } = cd;
  const KEY = "craftdesk.adminToken";
  const $ = (id) => document.getElementById(id);
  let auth = null;

  function failed(err, where) {
    if (err.status === 401 || err.status === 403) {
      sessionStorage.removeItem(KEY);
      location.reload();
      return;
    }
    where.append(h("p", { class: "error", text: errorText(err) }));
  }

  // ---- sites and QR codes ----------------------------------------------------------------------
  // The texts of this tab are data attributes of its section (the confirm, the choice counter).
  const sitesTab = $("tab-sites");
  const chosen = new Set(); // site codes ticked for the sheet; none ticked: every site
  let listed = [];
  let refusal = null; // why printing asks first (Chinese / English), from /api/admin/public-url
  let intranetConfirmed = false; // the steward said the local public URL is the intranet's

  // checkboxes made here: the stylesheet sizes inputs as text fields
  function checkbox(label, checked, onchange) {
    const box = h("input", { type: "checkbox", "aria-label": label, title: label, onchange });
    box.checked = checked;
    Object.assign(box.style, { width: "20px", height: "20px", padding: "0", margin: "0" });
    return box;
  }

  function showChoice() {
    $("sheet-choice").textContent = chosen.size
      ? sitesTab.dataset.chosen.replace("{n}", chosen.size) : sitesTab.dataset.all;
    const all = $("pick-all-cell").firstChild;
    if (all) {
      all.checked = listed.length > 0 && chosen.size === listed.length;
      all.indeterminate = chosen.size > 0 && chosen.size < listed.length;
    }
  }

  async function publicUrl() {
    try {
      const state = await api("/api/admin/public-url", { headers: auth });
      refusal = state.detail;
    } catch (err) {
      refusal = null;
    }
    const note = $("public-url-note");
    note.textContent = refusal || "";
    cd.show(note, Boolean(refusal));
  }

  /** A QR download. A 409 means the public URL is a loopback/private address: the steward is
      asked once whether it is the factory intranet's, and the call is retried with intranet=true. */
  async function qrDownload(path, filename) {
    const confirmed = () => `${path}${path.includes("?") ? "&" : "?"}intranet=true`;
    try {
      await cd.download(intranetConfirmed ? confirmed() : path, auth, filename);
      return;
    } catch (err) {
      if (err.status !== 409) throw err;
    }
    if (refusal === null) await publicUrl();
    if (!window.confirm(`${refusal || ""}\n\n${sitesTab.dataset.confirm}`)) return;
    intranetConfirmed = true;
    await cd.download(confirmed(), auth, filename);
  }

  async function sites() {
    const body = $("sites");
    put(body, h("tr", {}, h("td", { colspan: 5, class: "muted", text: T.loading })));
    publicUrl();
    try {
      listed = await api("/api/admin/sites", { headers: auth });
    } catch (err) {
      put(body);
      failed(err, sitesTab);
      return;
    }
    const codes = new Set(listed.map((s) => s.code));
    [...chosen].filter((code) => !codes.has(code)).forEach((code) => chosen.delete(code));
    put($("pick-all-cell"), checkbox(sitesTab.dataset.pickAll, false, (event) => {
      listed.forEach((s) => (event.target.checked ? chosen.add(s.code) : chosen.delete(s.code)));
      body.querySelectorAll("input.pick").forEach((box) => { box.checked = event.target.checked; });
      showChoice();
    }));
    const get = (code, ext) => () => qrDownload(`/api/admin/sites/${encodeURIComponent(code)}/qr.${ext}`, `${code}.${ext}`)
      .catch((err) => failed(err, sitesTab));
    put(body, ...listed.map((s) => {
      const pick = checkbox(`${sitesTab.dataset.pick}: ${s.name}`, chosen.has(s.code), (event) => {
        if (event.target.checked) chosen.add(s.code);
        else chosen.delete(s.code);
        showChoice();
      });
      pick.classList.add("pick");
      pick.dataset.site = s.code;
      return h("tr", { "data-site": s.code },
        h("td", {}, pick),
        h("td", {}, h("strong", { text: s.name }), h("div", {}, h("code", { text: s.code })),
          h("div", { class: "muted small", text: s.url })),
        h("td", { class: "wide-only", text: s.region || "" }),
        h("td", { class: "wide-only", text: s.industry || "" }),
        h("td", { class: "nowrap" },
          h("button", { type: "button", class: "secondary small", text: T.png, onclick: get(s.code, "png") }),
          h("button", { type: "button", class: "secondary small", text: T.svg, onclick: get(s.code, "svg") })));
    }));
    showChoice();
  }

  $("sheet-pdf").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    const query = new URLSearchParams();
    // in the order of the list, so the cards come out as the steward sees them
    listed.filter((s) => chosen.has(s.code)).forEach((s) => query.append("site", s.code));
    const bot = $("bot-name").value.trim();
    if (bot) query.set("bot", bot);
    button.disabled = true;
    try {
      const qs = query.toString();
      await qrDownload(`/api/admin/qr-sheet.pdf${qs ? `?${qs}` : ""}`, "qr-sheet.pdf");
    } catch (err) {
      failed(err, sitesTab);
    } finally {
      button.disabled = false;
    }
  });

  // ---- candidate cases -------------------------------------------------------------------------
  async function candidates() {
    const box = $("candidates");
    put(box, h("p", { class: "muted", text: T.loading }));
    let list;
    try {
      list = await api("/api/admin/candidates", { headers: auth });
    } catch (err) {
      put(box);
      failed(err, box);
      return;
    }
    put(box, ...(list.length ? list.map(candidate) : [h("p", { class: "muted", text: T.candidatesEmpty })]));
  }

  function candidate(c) {
    const title = h("input", { value: c.question.slice(0, 40), maxlength: 300, "aria-label": T.title });
    const question = h("textarea", { rows: 3, "aria-label": T.question });
    question.value = c.question;
    const answer = h("textarea", { rows: 5, "aria-label": T.answer });
    answer.value = c.answer;
    const result = h("div", { class: "result" });
    const publish = h("button", { type: "button", class: "publish", text: T.publish });
    publish.addEventListener("click", async () => {
      publish.disabled = true;
      put(result);
      try {
        const done = await api(`/api/admin/candidates/${encodeURIComponent(c.ticket_id)}/publish`, {
          method: "POST", headers: auth,
          body: { title: title.value, question: question.value, answer: answer.value },
        });
        put(result, h("p", { class: "note", text: T.published + done.case_id }));
      } catch (err) {
        publish.disabled = false;
        failed(err, result);
      }
    });
    return h("article", { class: "card candidate", "data-ticket": c.ticket_id },
      h("p", { class: "muted", text: [c.site, c.expert_id, c.answered_at && cd.time(c.answered_at)].filter(Boolean).join(" · ") }),
      h("label", {}, T.title, title),
      h("label", {}, T.question, question),
      h("label", {}, T.answer, answer),
      h("div", { class: "actions" }, publish), result);
  }

  // ---- experts ---------------------------------------------------------------------------------
  async function experts() {
    const body = $("experts");
    put(body, h("tr", {}, h("td", { colspan: 7, class: "muted", text: T.loading })));
    let list;
    try {
      list = await api("/api/admin/experts", { headers: auth });
    } catch (err) {
      put(body);
      failed(err, $("tab-experts"));
      return;
    }
    put(body, ...list.map((e) => {
      const cell = h("td", { class: "login-cell" });
      cell.append(h("button", { type: "button", class: "secondary small issue", text: T.issueLink, onclick: () => issue(e, cell) }));
      return h("tr", { "data-expert": e.expert_id },
        h("td", {}, h("strong", { text: e.name }), h("div", { class: "muted small narrow-only", text: e.title || "" })),
        h("td", { class: "wide-only", text: e.title || "" }),
        h("td", { class: "wide-only", text: e.org || "" }),
        h("td", { class: "wide-only", text: e.region || "" }),
        h("td", { class: e.open_tickets >= e.max_open_tickets ? "load full" : "load" }, `${e.open_tickets} / ${e.max_open_tickets}`),
        h("td", { text: e.active ? T.active : T.inactive }),
        cell);
    }));
  }

  async function issue(expert, cell) {
    let issued;
    try {
      issued = await api(`/api/admin/experts/${encodeURIComponent(expert.expert_id)}/token`, { method: "POST", headers: auth });
    } catch (err) {
      failed(err, cell);
      return;
    }
    const link = h("input", { class: "login-link", readonly: true, value: issued.login_url, "aria-label": T.issueLink });
    const copy = h("button", { type: "button", class: "secondary small", text: T.copy });
    copy.addEventListener("click", async () => {
      link.select();
      try {
        await navigator.clipboard.writeText(issued.login_url);
      } catch (err) {
        document.execCommand("copy");
      }
      copy.textContent = T.copied;
    });
    put(cell, link, copy);
  }

  // ---- statistics ------------------------------------------------------------------------------
  async function stats() {
    let s;
    try {
      s = await api("/api/admin/stats", { headers: auth });
    } catch (err) {
      failed(err, $("tab-stats"));
      return;
    }
    const t = s.totals;
    const share = t.questions ? `${Math.round((100 * t.solved_by_suggestion) / t.questions)}%` : "—";
    const tile = (label, value) => h("div", { class: "tile" }, h("span", { class: "tile-value", text: value }), h("span", { class: "muted", text: label }));
    put($("totals"),
      tile(T.totals.questions, t.questions), tile(T.totals.solvedShare, share),
      tile(T.totals.tickets, t.tickets), tile(T.totals.answered, t.tickets_answered),
      tile(T.totals.median, t.median_first_response_minutes ?? "—"), tile(T.totals.rating, t.rating_average ?? "—"));
    const name = (key) => key || T.unknown;
    // drawn at about the width they get, so their text stays readable on a phone
    const opts = { empty: T.noData, width: Math.max(300, Math.min(600, $("charts").clientWidth - 24)) };
    put($("charts"),
      charts.columns(T.charts.weekly, s.weekly.map((w) => [w.week.slice(5), w.questions]), opts),
      charts.columns(T.charts.solvedShare, s.weekly.map((w) => [w.week.slice(5), w.questions ? (100 * w.solved_by_suggestion) / w.questions : 0]),
        { ...opts, format: (v) => `${Math.round(v)}%` }),
      charts.bars(T.charts.responseRegion, s.by_region.map((r) => [name(r.key), r.median_first_response_minutes]), opts),
      charts.bars(T.charts.byIndustry, s.by_industry.map((r) => [name(r.key), r.questions]), opts),
      charts.bars(T.charts.byRegion, s.by_region.map((r) => [name(r.key), r.questions]), opts));
    deadLetters(s.outbox ? s.outbox.dead : 0);
    learning();
  }

  // ---- what the decision policy learns from -------------------------------------------------
  async function learning() {
    const L = T.learning;
    let l;
    try {
      l = await api("/api/admin/learning", { headers: auth });
    } catch (err) {
      failed(err, $("learning-body"));
      return;
    }
    const rows = Object.entries(l.labels).map(([source, n]) => h("tr", {},
      h("td", { text: L.sources[source] || source }), h("td", { text: n.yes }), h("td", { text: n.no })));
    const c = l.calibration || {};
    const figures = c.cross_set || {};
    const pct = (v) => (typeof v === "number" ? `${Math.round(v * 1000) / 10}%` : "—");
    put($("learning-body"),
      h("table", {}, h("thead", {}, h("tr", {}, h("th", { text: L.labels }), h("th", { text: L.yes }), h("th", { text: L.no }))),
        h("tbody", {}, rows.length ? rows : [h("tr", {}, h("td", { colspan: 3, class: "muted", text: "0" }))])),
      h("p", { class: "muted", text: `${L.fittedAt}: ${c.fitted_at ? cd.time(c.fitted_at) : L.never}` }),
      c.sets ? h("p", { class: "muted", text: `${L.sets}: ${Object.entries(c.sets).map(([k, v]) => `${k} ${v}`).join("，")}` }) : null,
      // one line per knowledge-base size the policy was judged at (scripts/evaluate.py scenes)
      ...Object.entries(figures).map(([place, f]) => h("p", {
        text: `${L.scenes[place] || place}：${L.precision} ${pct(f.suggest_precision)} · ${L.coverage} ${pct(f.coverage)} · ${L.firstShown} ${pct(f.first_in_suggest_or_confirm)}` })));
  }

  // ---- notifications given up on (dead letters); hidden when there are none ---------------------
  async function deadLetters(count) {
    const section = $("dead-letters");
    cd.show(section, count > 0);
    if (!count) return;
    $("dead-count").textContent = count;
    let list;
    try {
      list = await api("/api/admin/outbox/dead", { headers: auth });
    } catch (err) {
      failed(err, $("dead-result"));
      return;
    }
    const retry = (path, button) => async () => {
      button.disabled = true;
      try {
        await api(path, { method: "POST", headers: auth });
      } catch (err) {
        button.disabled = false;
        failed(err, $("dead-result"));
        return;
      }
      $("dead-result").textContent = section.dataset.retried;
      stats();
    };
    $("retry-all").onclick = retry("/api/admin/outbox/retry-dead", $("retry-all"));
    $("retry-all").disabled = false;
    put($("dead"), ...list.map((d) => {
      const button = h("button", { type: "button", class: "secondary small", text: section.dataset.retry });
      button.addEventListener("click", retry(`/api/admin/outbox/${encodeURIComponent(d.id)}/retry`, button));
      return h("tr", { "data-event": d.id },
        h("td", { text: d.id }),
        h("td", { text: d.kind }),
        h("td", { class: "wide-only" }, h("code", { text: d.ticket_id })),
        h("td", { class: "wide-only", text: d.recipient }),
        h("td", { text: d.attempts }),
        h("td", { class: "small", text: d.last_error || "" }),
        h("td", { class: "wide-only nowrap", text: cd.time(d.dead_at) }),
        h("td", {}, button));
    }));
  }

  // ---- the index -------------------------------------------------------------------------------
  function showIndex(state) {
    const pct = state.total ? Math.round((100 * state.done) / state.total) : state.state === "done" ? 100 : 0;
    $("reindex-bar").style.width = `${pct}%`;
    $("reindex-state").textContent = [T.reindexStates[state.state] || state.state,
      state.total ? `${state.done} / ${state.total}` : "", state.version || "", state.error || ""].filter(Boolean).join(" · ");
    $("reindex").disabled = state.state === "running";
  }

  async function index(start = false) {
    let state;
    try {
      state = await api("/api/admin/reindex", { method: start ? "POST" : "GET", headers: auth });
    } catch (err) {
      failed(err, $("tab-index"));
      return;
    }
    showIndex(state);
    if (state.state === "running") setTimeout(() => index(), 700);
  }

  $("reindex").addEventListener("click", () => index(true));

  // ---- tabs and login --------------------------------------------------------------------------
  const TABS = { sites, candidates, experts, stats, index: () => index() };

  function open(tab) {
    if (!TABS[tab]) tab = "sites";
    document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === tab));
    Object.keys(TABS).forEach((name) => cd.show($(`tab-${name}`), name === tab));
    if (location.hash !== `#${tab}`) history.replaceState(null, "", `#${tab}`);
    TABS[tab]();
  }

  function enter(token) {
    auth = { Authorization: `Bearer ${token}` };
    cd.show($("login"), false);
    cd.show($("tabs"));
    cd.show($("logout"));
    document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => open(b.dataset.tab)));
    window.addEventListener("hashchange", () => open(location.hash.slice(1)));
    open(location.hash.slice(1));
  }

  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    location.reload();
  });

  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = $("admin-token").value.trim();
    const error = $("login-error");
    try {
      await api("/api/admin/reindex", { headers: { Authorization: `Bearer ${token}` } });
    } catch (err) {
      error.textContent = err.status === 401 || err.status === 403 ? T.unauthorized : errorText(err);
      cd.show(error);
      return;
    }
    sessionStorage.setItem(KEY, token);
    enter(token);
  });

  const saved = sessionStorage.getItem(KEY);
  if (saved) enter(saved);
  else cd.show($("login"));
})();
