/* The admin pages: sites and QR downloads, the tickets (admin queue, reassigning), candidate cases to publish, experts and their
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

  // ---- the roster: one expert or site added or edited (roster.js) -------------------------------
  /** The form of one expert or site in ``box`` (``key`` null: a new one); after a save, what it
      did goes to ``note`` and the list reloads. */
  async function openEditor(kind, key, box, note, reload) {
    let record = null;
    if (key !== null) {
      try {
        record = await api(`/api/admin/${kind}/${encodeURIComponent(key)}`, { headers: auth });
      } catch (err) {
        failed(err, box);
        return;
      }
    }
    cd.show(note, false);
    const form = roster.editor(kind, record, auth, (answer, values) => {
      note.textContent = roster.savedText(answer, values.name);
      cd.show(note);
      reload();
    });
    put(box, form);
    form.scrollIntoView({ block: "start" });
    const first = form.querySelector("input:not([readonly]), textarea");
    if (first) first.focus();
  }

  function editButton(kind, key, name, box, note, reload) {
    return h("button", { type: "button", class: "secondary small edit", text: T.roster.edit,
      "aria-label": `${T.roster.edit}：${name}`, onclick: () => openEditor(kind, key, box, note, reload) });
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
    const all = listed;
    listed = listed.filter((s) => s.active);  // a deactivated site is not printed
    const codes = new Set(listed.map((s) => s.code));
    [...chosen].filter((code) => !codes.has(code)).forEach((code) => chosen.delete(code));
    put($("pick-all-cell"), checkbox(sitesTab.dataset.pickAll, false, (event) => {
      listed.forEach((s) => (event.target.checked ? chosen.add(s.code) : chosen.delete(s.code)));
      body.querySelectorAll("input.pick").forEach((box) => { box.checked = event.target.checked; });
      showChoice();
    }));
    const get = (code, ext) => () => qrDownload(`/api/admin/sites/${encodeURIComponent(code)}/qr.${ext}`, `${code}.${ext}`)
      .catch((err) => failed(err, sitesTab));
    const edit = (s) => editButton("sites", s.code, s.name, $("site-form"), $("site-saved"), sites);
    put(body, ...all.map((s) => {
      if (!s.active) {
        return h("tr", { "data-site": s.code, class: "inactive" }, h("td", {}),
          h("td", {}, h("strong", { text: s.name }), " ", h("span", { class: "status", text: T.roster.siteInactive }),
            h("div", {}, h("code", { text: s.code })), edit(s)),
          h("td", { class: "wide-only", text: s.region || "" }),
          h("td", { class: "wide-only", text: s.industry || "" }),
          h("td", {}));
      }
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
          h("div", { class: "muted small", text: s.url }), edit(s)),
        h("td", { class: "wide-only", text: s.region || "" }),
        h("td", { class: "wide-only", text: s.industry || "" }),
        h("td", {}, h("div", { class: "qr-cell" },
          h("button", { type: "button", class: "secondary small", text: T.png, onclick: get(s.code, "png") }),
          h("button", { type: "button", class: "secondary small", text: T.svg, onclick: get(s.code, "svg") }))));
    }));
    showChoice();
  }

  $("add-site").addEventListener("click", () => openEditor("sites", null, $("site-form"), $("site-saved"), sites));
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

  // ---- tickets: the admin queue and every unanswered ticket, each reassignable -----------------
  async function tickets() {
    const TT = T.tickets;
    const queue = $("admin-queue");
    const open = $("open-tickets");
    put(queue, h("p", { class: "muted", text: T.loading }));
    put(open);
    let list, people;
    try {
      [list, people] = await Promise.all([
        api("/api/admin/tickets?status=open&status=assigned", { headers: auth }),
        api("/api/admin/experts", { headers: auth }),
      ]);
    } catch (err) {
      put(queue);
      failed(err, queue);
      return;
    }
    const active = people.filter((e) => e.active);
    const waiting = list.filter((t) => t.tier === "admin" && !t.expert);
    $("queue-count").textContent = waiting.length;
    $("open-count").textContent = list.length;
    put(queue, ...(waiting.length ? waiting.map((t) => ticketCard(t, active)) : [h("p", { class: "muted", text: TT.queueEmpty })]));
    put(open, ...(list.length ? list.map((t) => ticketCard(t, active)) : [h("p", { class: "muted", text: TT.openEmpty })]));
  }

  function age(iso) {
    const TT = T.tickets;
    const minutes = Math.max(0, Math.floor((Date.now() - new Date(iso).getTime()) / 60000));
    if (minutes < 60) return TT.minutes.replace("{n}", minutes);
    if (minutes < 48 * 60) return TT.hours.replace("{n}", Math.floor(minutes / 60));
    return TT.days.replace("{n}", Math.floor(minutes / 1440));
  }

  /** One ticket: its question (as text only), site, status, tier, holder, age, and 指派给. */
  function ticketCard(t, active) {
    const TT = T.tickets;
    const result = h("p", { class: "result small", role: "status" });
    const select = h("select", { class: "reassign-expert", "aria-label": TT.reassign },
      h("option", { value: "", text: TT.choose }),
      ...active.map((e) => h("option", {
        value: e.expert_id,
        text: `${e.name}${e.region ? ` · ${e.region}` : ""} · ${e.open_tickets >= e.max_open_tickets ? TT.full
          : TT.load.replace("{n}", e.open_tickets).replace("{max}", e.max_open_tickets)}`,
      })));
    const button = h("button", { type: "button", class: "small assign", text: TT.assign });
    button.addEventListener("click", async () => {
      const expertId = select.value;
      if (!expertId) {
        result.textContent = TT.noExpert;
        return;
      }
      button.disabled = true;
      try {
        const done = await api(`/api/admin/tickets/${encodeURIComponent(t.ticket_id)}/assign`, {
          method: "POST", headers: auth, body: { expert_id: expertId },
        });
        const name = done.expert ? done.expert.name : expertId;
        tickets().then(() => {
          const note = document.querySelector(`#open-tickets [data-ticket="${CSS.escape(t.ticket_id)}"] .result`);
          if (note) note.textContent = TT.assigned.replace("{name}", name);
        });
      } catch (err) {
        button.disabled = false;
        put(result);
        failed(err, result);
      }
    });
    const facts = [
      [TT.site, t.site ? t.site.name : TT.noSite],
      [TT.status, TT.statusNames[t.status] || t.status],
      [TT.tier, TT.tierNames[t.tier] || t.tier],
      [TT.holder, t.expert ? t.expert.name : TT.nobody],
      [TT.age, age(t.created_at)],
    ];
    return h("article", { class: "admin-ticket", "data-ticket": t.ticket_id },
      cd.longText(t.text),
      h("dl", { class: "facts" }, ...facts.map(([k, v]) => h("div", {}, h("dt", { text: k }), h("dd", { text: v })))),
      h("div", { class: "actions" }, h("label", { class: "inline" }, TT.reassign, select), button),
      result);
  }

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
    const discard = h("button", { type: "button", class: "secondary discard", text: T.roster.discard });
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
    discard.addEventListener("click", async () => {
      if (!window.confirm(T.roster.discardWarn)) return;
      discard.disabled = true;
      try {
        await api(`/api/admin/candidates/${encodeURIComponent(c.ticket_id)}/discard`, { method: "POST", headers: auth });
        card.replaceChildren(h("p", { class: "note", text: T.roster.discarded }));
      } catch (err) {
        discard.disabled = false;
        failed(err, result);
      }
    });
    const credit = c.expert_name && T.credit.replace("{name}", c.expert_name);
    const card = h("article", { class: "card candidate", "data-ticket": c.ticket_id },
      h("p", { class: "muted", text: [c.site_name || c.site, credit, c.answered_at && cd.time(c.answered_at)].filter(Boolean).join(" · ") }),
      h("label", {}, T.title, title),
      h("label", {}, T.question, question),
      h("label", {}, T.answer, answer),
      h("div", { class: "actions" }, publish, discard), result);
    return card;
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
      const state = e.login_expires_at ? T.loginUntil.replace("{date}", day(new Date(e.login_expires_at))) : T.noLogin;
      if (e.active) {  // a deactivated expert cannot log in (issuing answers 409)
        cell.append(h("button", { type: "button", class: "secondary small issue", text: e.login_expires_at ? T.issueAgain : T.issueLink,
          onclick: () => issue(e, cell) }), h("div", { class: "muted small login-state", text: state }));
      }
      return h("tr", { "data-expert": e.expert_id },
        h("td", {}, h("strong", { text: e.name }), h("div", { class: "muted small narrow-only", text: e.title || "" }),
          e.teams.length ? h("div", { class: "muted small teams", text: e.teams.join("、") }) : null,
          editButton("experts", e.expert_id, e.name, $("expert-form"), $("expert-saved"), experts)),
        h("td", { class: "wide-only", text: e.title || "" }),
        h("td", { class: "wide-only", text: e.org || "" }),
        h("td", { class: "wide-only", text: e.region || "" }),
        h("td", { class: e.open_tickets >= e.max_open_tickets ? "load full" : "load" }, `${e.open_tickets} / ${e.max_open_tickets}`),
        h("td", { text: e.active ? T.active : T.inactive }),
        cell);
    }));
  }

  /** A new login link. Issuing one revokes the expert's earlier links (bot/service/experts.py
      issue_token), so while one works the steward is asked first. */
  async function issue(expert, cell) {
    if (expert.login_expires_at && !window.confirm(T.issueWarn.replace("{name}", expert.name))) return;
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
    // the QR code as an image from a blob: URL (never parsed into the page as markup)
    const qr = h("img", { class: "login-qr", alt: T.scanHint,
      src: URL.createObjectURL(new Blob([issued.qr_svg], { type: "image/svg+xml" })) });
    put(cell, link, copy);
    // on a row of its own, the table's full width: in sight on a phone too
    const row = cell.closest("tr");
    const next = row.nextElementSibling;
    if (next && next.classList.contains("login-qr-row")) next.remove();
    row.after(h("tr", { class: "login-qr-row", "data-expert": expert.expert_id },
      h("td", { colspan: row.children.length },
        h("figure", { class: "login-qr-box" }, qr, h("figcaption", { class: "muted small", text: T.scanHint })))));
  }

  $("add-expert").addEventListener("click", () => openEditor("experts", null, $("expert-form"), $("expert-saved"), experts));

  // ---- statistics ------------------------------------------------------------------------------
  /** "12月1日" for a Date, read in UTC when ``utc`` (the weeks of the figures are UTC). */
  function day(d, utc = false) {
    const [m, dd] = utc ? [d.getUTCMonth() + 1, d.getUTCDate()] : [d.getMonth() + 1, d.getDate()];
    return T.day.replace("{m}", m).replace("{d}", dd);
  }

  /** An ISO week key of the figures ("2026-W49", bot/service/stats.py iso_week) as the days it
      covers, Monday to Sunday: "11月30日–12月6日" (two lines in a chart). */
  function weekLabel(key, sep = "") {
    const [year, week] = key.split("-W").map(Number);
    const jan4 = new Date(Date.UTC(year, 0, 4));
    const monday = new Date(jan4.getTime() + ((week - 1) * 7 - ((jan4.getUTCDay() + 6) % 7)) * 86400000);
    const sunday = new Date(monday.getTime() + 6 * 86400000);
    return T.weekRange.replace("{from}", day(monday, true) + sep).replace("{to}", day(sunday, true));
  }

  /** The chosen window as query parameters: local midnights, the end date included. */
  function statsQuery() {
    const since = $("stats-since").value, until = $("stats-until").value;
    const query = new URLSearchParams();
    if (since) query.set("since", new Date(`${since}T00:00`).toISOString());
    if (until) {
      const end = new Date(`${until}T00:00`);
      end.setDate(end.getDate() + 1);
      query.set("until", end.toISOString());
    }
    const qs = query.toString();
    return qs ? `?${qs}` : "";
  }

  function rangeOk() {
    const since = $("stats-since").value, until = $("stats-until").value;
    const ok = !since || !until || since <= until;
    $("stats-range-error").textContent = ok ? "" : T.rangeBad;
    return ok;
  }

  $("stats-range").addEventListener("submit", (event) => {
    event.preventDefault();
    if (rangeOk()) stats();
  });
  $("stats-all").addEventListener("click", () => {
    $("stats-since").value = "";
    $("stats-until").value = "";
    rangeOk();
    stats();
  });
  $("stats-csv").addEventListener("click", async (event) => {
    if (!rangeOk()) return;
    const button = event.currentTarget;
    button.disabled = true;
    try {
      const name = ["craftdesk-stats", $("stats-since").value, $("stats-until").value].filter(Boolean).join("_");
      await cd.download(`/api/admin/stats.csv${statsQuery()}`, auth, `${name}.csv`);
    } catch (err) {
      failed(err, $("stats-range-error"));
    } finally {
      button.disabled = false;
    }
  });

  async function stats() {
    let s;
    try {
      s = await api(`/api/admin/stats${statsQuery()}`, { headers: auth });
    } catch (err) {
      failed(err, $("tab-stats"));
      return;
    }
    const t = s.totals;
    const share = t.questions ? `（${Math.round((100 * t.solved_by_suggestion) / t.questions)}%）` : "";
    const tile = (label, value) => h("div", { class: "tile" }, h("span", { class: "tile-value", text: value }), h("span", { class: "muted", text: label }));
    put($("totals"),
      // side by side: how many got a case, how many it solved, how many went to a master
      tile(T.totals.questions, t.questions), tile(T.totals.suggested, t.suggested),
      tile(T.totals.solvedShare, `${t.solved_by_suggestion}${share}`),
      tile(T.totals.tickets, t.tickets), tile(T.totals.answered, t.tickets_answered),
      tile(T.totals.median, t.median_first_response_minutes ?? "—"), tile(T.totals.rating, t.rating_average ?? "—"));
    const name = (key) => key || T.unknown;
    // drawn at about the width they get, so their text stays readable on a phone
    const opts = { empty: T.noData, width: Math.max(300, Math.min(600, $("charts").clientWidth - 24)) };
    put($("charts"),
      charts.columns(T.charts.weekly, s.weekly.map((w) => [weekLabel(w.week, "\n"), w.questions]), opts),
      charts.columns(T.charts.solvedShare, s.weekly.map((w) => [weekLabel(w.week, "\n"), w.questions ? (100 * w.solved_by_suggestion) / w.questions : 0]),
        { ...opts, format: (v) => `${Math.round(v)}%` }),
      charts.bars(T.charts.responseRegion, s.by_region.map((r) => [name(r.key), r.median_first_response_minutes]), opts),
      charts.bars(T.charts.byIndustry, s.by_industry.map((r) => [name(r.key), r.questions]), opts),
      charts.bars(T.charts.byRegion, s.by_region.map((r) => [name(r.key), r.questions]), opts),
      charts.bars(T.charts.byTeam, s.by_team.map((r) => [r.name || name(r.key), r.tickets]), opts));
    if (role.role === "admin") {
      deadLetters(s.outbox ? s.outbox.dead : 0);
      learning();
    } else {
      cd.show($("learning"), false);
    }
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
  const TABS = {
    sites, tickets, candidates, experts, stats, index: () => index(),
    import: () => window.importTab(auth), stewards: () => window.stewardsTab(auth),
    report: () => window.reportTab(auth),
    needs: () => window.needsTab(auth),
    classes: () => window.classesTab(auth),
  };
  const ADMIN_ONLY = ["experts", "index", "stewards"];  // a steward's token gets 403 there (imports: sites only)
  let role = null; // GET /api/admin/me: the administrator, or a steward and their scope

  function open(tab) {
    if (!TABS[tab] || (role.role === "steward" && ADMIN_ONLY.includes(tab))) tab = "sites";
    document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === tab));
    Object.keys(TABS).forEach((name) => cd.show($(`tab-${name}`), name === tab));
    if (location.hash !== `#${tab}`) history.replaceState(null, "", `#${tab}`);
    TABS[tab]();
  }

  /** The page as the role sees it: a steward gets their own sites' tabs, without the roster,
      the index, the imports and the notifications given up on (the administrator's). */
  function adapt(me) {
    role = me;
    const steward = me.role === "steward";
    document.body.classList.toggle("as-steward", steward);
    document.querySelectorAll("#tabs button").forEach((b) => cd.show(b, !(steward && ADMIN_ONLY.includes(b.dataset.tab))));
    const who = $("who");
    who.textContent = steward ? T.stewardScope.replace("{name}", me.name).replace("{n}", me.sites.length) : "";
    cd.show(who, steward);
  }

  async function enter(token) {
    auth = { Authorization: `Bearer ${token}` };
    try {
      adapt(await api("/api/admin/me", { headers: auth }));
    } catch (err) {
      failed(err, $("login"));
      return;
    }
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
      await api("/api/admin/me", { headers: { Authorization: `Bearer ${token}` } });
    } catch (err) {
      error.textContent = err.status === 401 || err.status === 403 ? T.unauthorized : errorText(err);
      cd.show(error);
      return;
    }
    sessionStorage.setItem(KEY, token);
    enter(token);
  });

  // a login link (/admin#token=…, issued to a steward): the token is kept for the tab, not the URL
  const linked = /^#token=(.+)$/.exec(location.hash);
  if (linked) {
    sessionStorage.setItem(KEY, decodeURIComponent(linked[1]));
    history.replaceState(null, "", location.pathname);
  }
  const saved = sessionStorage.getItem(KEY);
  if (saved) enter(saved);
  else cd.show($("login"));
})();
