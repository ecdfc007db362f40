/* The 导入名单 tab of the admin page: a roster spreadsheet (.xlsx or .csv) previewed with a dry
   run (what would be new, updated or unchanged, or every problem as a table row), then imported,
   and the index rebuild it starts followed to the end. Built on first opening; admin.js calls
   window.importTab(auth) each time the tab opens. */
"use strict";

window.importTab = (() => {
  const { h, put, T } = cd;
  const I = T.imports;
  let auth = null;
  let built = null;

  /** POST the chosen file; the answer's JSON, or an ApiError that also carries ``problems``. */
  async function send(file, dryRun) {
    const form = new FormData();
    form.append("file", file);
    let response;
    try {
      response = await fetch(`/api/admin/import?dry_run=${dryRun}`, { method: "POST", body: form, headers: auth });
    } catch (err) {
      throw new cd.ApiError(0, String(err));
    }
    const payload = (response.headers.get("content-type") || "").includes("json") ? await response.json() : null;
    if (!response.ok) {
      const error = new cd.ApiError(response.status, (payload && payload.detail) || response.statusText);
      error.problems = (payload && payload.problems) || [];
      throw error;
    }
    return payload;
  }

  function countsTable(answer) {
    const kinds = Object.keys(answer.created);
    if (!kinds.some((k) => answer.created[k] || answer.updated[k] || answer.unchanged[k])) {
      return h("p", { class: "muted", text: I.nothing });
    }
    return h("div", { class: "table-wrap" }, h("table", { class: "import-counts" },
      h("thead", {}, h("tr", {}, [I.kind, I.created, I.updated, I.unchanged].map((t) => h("th", { text: t })))),
      h("tbody", {}, kinds.map((k) => h("tr", { "data-kind": k },
        h("td", { text: I.kinds[k] || k }),
        h("td", { text: answer.created[k] }),
        h("td", { text: answer.updated[k] }),
        h("td", { text: answer.unchanged[k] }))))));
  }

  function problemsTable(problems) {
    const C = I.columns;
    const wide = (key) => (key === "file" ? "wide-only" : null);
    const keys = ["file", "sheet", "row", "column", "message"];
    return h("div", { class: "import-problems" },
      h("p", { class: "error", text: I.problemsTitle.replace("{n}", problems.length) }),
      h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, keys.map((k) => h("th", { class: wide(k), text: C[k] })))),
        h("tbody", {}, problems.map((p) => h("tr", {},
          keys.map((k) => h("td", { class: wide(k), text: p[k] === null || p[k] === undefined ? "" : p[k] }))))))));
  }

  function build(section) {
    const file = h("input", { id: "import-file", type: "file", accept: ".xlsx,.csv" });
    const preview = h("button", { type: "button", id: "import-preview", text: I.preview });
    const confirm = h("button", { type: "button", id: "import-confirm", class: "secondary", text: I.confirm, disabled: true });
    const result = h("div", { id: "import-result", role: "status" });
    const bar = h("div", { id: "import-bar", class: "bar" });
    const progress = h("div", { class: "progress", hidden: true }, bar);
    const state = h("p", { id: "import-state", class: "muted" });
    const template = h("button", { type: "button", id: "import-template", class: "secondary small", text: I.template,
      onclick: () => cd.download("/api/admin/import/template.xlsx", auth, "roster-template.xlsx")
        .catch((err) => put(result, h("p", { class: "error", text: cd.errorText(err) }))) });

    function chosen() {
      const picked = file.files && file.files[0];
      if (!picked) put(result, h("p", { class: "error", text: I.pickFirst }));
      return picked || null;
    }

    function failed(err) {
      if (err.problems && err.problems.length) put(result, problemsTable(err.problems));
      else if (err.status === 401) put(result, h("p", { class: "error", text: T.unauthorized }));
      else put(result, h("p", { class: "error", text: cd.errorText(err) }));
    }

    async function follow() {
      let now;
      try {
        now = await cd.api("/api/admin/reindex", { headers: auth });
      } catch (err) {
        state.textContent = cd.errorText(err);
        return;
      }
      const pct = now.total ? Math.round((100 * now.done) / now.total) : now.state === "done" ? 100 : 0;
      bar.style.width = `${pct}%`;
      state.textContent = [I.reindex + (T.reindexStates[now.state] || now.state),
        now.total ? `${now.done} / ${now.total}` : "", now.error || ""].filter(Boolean).join(" · ");
      state.dataset.state = now.state;
      if (now.state === "running") setTimeout(follow, 1000);
    }

    file.addEventListener("change", () => {
      confirm.disabled = true;
      put(result);
    });

    preview.addEventListener("click", async () => {
      const picked = chosen();
      if (!picked) return;
      confirm.disabled = true;
      cd.show(progress, false);
      state.textContent = "";
      put(result, h("p", { class: "muted", text: I.checking }));
      try {
        const answer = await send(picked, true);
        put(result, h("h3", { text: I.previewTitle }), countsTable(answer));
        confirm.disabled = false;
      } catch (err) {
        failed(err);
      }
    });

    confirm.addEventListener("click", async () => {
      const picked = chosen();
      if (!picked) return;
      confirm.disabled = true;
      put(result, h("p", { class: "muted", text: I.importing }));
      try {
        const answer = await send(picked, false);
        put(result, h("h3", { text: I.doneTitle }), countsTable(answer));
        if (answer.reindex) {
          bar.style.width = "0";
          cd.show(progress);
          follow();
        } else {
          state.textContent = I.noReindex;
        }
      } catch (err) {
        failed(err);
      }
    });

    put(section,
      h("p", { class: "muted", text: I.intro }),
      h("div", { class: "toolbar" }, template),
      h("div", { class: "field" }, h("label", { for: "import-file", text: I.file }), file),
      h("div", { class: "toolbar" }, preview, confirm),
      result, progress, state);
    return section;
  }

  return (adminAuth) => {
    auth = adminAuth;
    if (!built) built = build(document.getElementById("tab-import"));
  };
})();
