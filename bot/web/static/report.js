/* The 报告 tab of the admin page: the union's report for a period of local days (GET
   /api/admin/report): the four headline figures, a bar chart per group for help sessions, problems
   solved and attendances, the response times, the most active experts, and the Excel / PDF
   downloads of the same figures. The first opening asks for the server's default period (three
   calendar months up to today) and fills the date pickers with it. admin.js calls
   window.reportTab(auth) each time the tab opens. */
"use strict";

window.reportTab = (() => {
  const { h, put, api, T, errorText } = cd;
  const R = T.report;
  const $ = (id) => document.getElementById(id);
  let auth = null;
  let wired = false;

  function query() {
    const params = new URLSearchParams({ by: $("report-by").value });
    if ($("report-from").value) params.set("from", $("report-from").value);
    if ($("report-to").value) params.set("to", $("report-to").value);
    return params.toString();
  }

  function rangeOk() {
    const from = $("report-from").value, to = $("report-to").value;
    const ok = !from || !to || from <= to;
    $("report-error").textContent = ok ? "" : R.rangeBad;
    return ok;
  }

  /** Minutes as a person reads them: minutes, hours, or days. */
  function duration(minutes) {
    if (minutes === null || minutes === undefined) return "—";
    if (minutes < 120) return R.minutes.replace("{n}", Math.round(minutes));
    if (minutes < 48 * 60) return R.hours.replace("{n}", (minutes / 60).toFixed(1));
    return R.days.replace("{n}", (minutes / 1440).toFixed(1));
  }

  function fill(template, values) {
    return Object.entries(values).reduce((text, [key, value]) => text.replace(`{${key}}`, value), template);
  }

  function tiles(t) {
    const notes = {
      help_sessions: { online: t.help_sessions_online, onsite: t.help_sessions_onsite },
      solved_onsite: { online: t.solved_online },
      training_attendances: { people: t.workers_reached_parts.attendees },
      workers_reached: {
        askers: t.workers_reached_parts.askers,
        attendees: t.workers_reached_parts.attendees,
        needs: t.workers_reached_parts.need_workers,
      },
    };
    return Object.entries(R.tiles).map(([key, label]) => h("div", { class: "tile", "data-figure": key },
      h("span", { class: "tile-value", text: t[key] }),
      h("span", { class: "muted", text: label }),
      h("span", { class: "muted small", text: fill(R.tileNotes[key], notes[key]) })));
  }

  function times(t) {
    const TT = R.times;
    const rows = [];
    for (const [key, name] of [["first_response_minutes", TT.first], ["resolution_minutes", TT.resolution]]) {
      const figures = t[key];
      for (const [part, label] of [[null, TT.all], ["tickets", TT.tickets], ["needs", TT.needs]]) {
        const f = part ? figures[part] : figures;
        rows.push(h("tr", {}, h("td", { text: `${name} · ${label}` }), h("td", { text: duration(f.median) }),
          h("td", { text: duration(f.p90) }), h("td", { text: f.count })));
      }
    }
    return rows;
  }

  function experts(list) {
    if (!list.length) return [h("tr", {}, h("td", { colspan: 5, class: "muted", text: R.noExperts }))];
    return list.map((e) => h("tr", { "data-expert": e.expert_id },
      h("td", { text: e.name }), h("td", { text: e.answers }), h("td", { text: e.needs_helped }),
      h("td", { text: e.classes_taught }), h("td", {}, h("strong", { text: e.total }))));
  }

  async function show() {
    let r;
    try {
      r = await api(`/api/admin/report?${query()}`, { headers: auth });
    } catch (err) {
      put($("report-error"), errorText(err));
      return;
    }
    $("report-error").textContent = "";
    $("report-from").value = r.period.from;
    $("report-to").value = r.period.to;
    $("report-period").textContent = fill(R.period, { from: r.period.from, to: r.period.to, tz: r.period.timezone })
      + (r.scope ? ` ${R.scope}` : "");
    put($("report-tiles"), tiles(r.totals));
    // drawn at about the width they get, so their text stays readable on a phone
    const opts = { empty: T.noData, width: Math.max(300, Math.min(600, $("report-charts").clientWidth - 24)) };
    put($("report-charts"),
      charts.bars(R.charts.help, r.rows.map((row) => [row.label, row.help_sessions]), opts),
      charts.bars(R.charts.solved, r.rows.map((row) => [row.label, row.solved_onsite + row.solved_online]), opts),
      charts.bars(R.charts.attendances, r.rows.map((row) => [row.label, row.training_attendances]), opts));
    put($("report-times"), times(r.totals));
    put($("report-experts"), experts(r.experts));
  }

  /** The quarter before today's: 1 Jan–31 Mar, 1 Apr–30 Jun, … */
  function lastQuarter() {
    const today = new Date();
    const start = new Date(today.getFullYear(), Math.floor(today.getMonth() / 3) * 3 - 3, 1);
    const end = new Date(start.getFullYear(), start.getMonth() + 3, 0);
    const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
    return [iso(start), iso(end)];
  }

  async function download(ext, button) {
    if (!rangeOk()) return;
    button.disabled = true;
    try {
      const name = `craftdesk-report_${$("report-from").value}_${$("report-to").value}.${ext}`;
      await cd.download(`/api/admin/report.${ext}?${query()}`, auth, name);
    } catch (err) {
      put($("report-error"), errorText(err));
    } finally {
      button.disabled = false;
    }
  }

  function wire() {
    $("report-form").addEventListener("submit", (event) => {
      event.preventDefault();
      if (rangeOk()) show();
    });
    $("report-by").addEventListener("change", () => { if (rangeOk()) show(); });
    $("report-quarter").addEventListener("click", () => {
      [$("report-from").value, $("report-to").value] = lastQuarter();
      show();
    });
    $("report-xlsx").addEventListener("click", (event) => download("xlsx", event.currentTarget));
    $("report-pdf").addEventListener("click", (event) => download("pdf", event.currentTarget));
  }

  return (token) => {
    auth = token;
    if (!wired) {
      wire();
      wired = true;
    }
    show();
  };
})();
