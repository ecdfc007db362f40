/* The needs-list form of a station (/n/{station}) and the filer's status page (/needs/{id}#token=…).
   No account: filing returns a private link; its token is kept on this phone (localStorage) and in the link's
   fragment, which never reaches a server. Everything shown is put in as text. Works in WeChat's browser:
   no modules, no fetch streaming, files sent one per request. */
"use strict";

(() => {
  const { h, put, api, T, errorText } = cd;
  const L = T.labels;
  const KEY = "craftdesk.needs";
  const POLL_MS = 30000;
  const $ = (id) => document.getElementById(id);

  function remembered() {
    try {
      const list = JSON.parse(localStorage.getItem(KEY) || "[]");
      return Array.isArray(list) ? list : [];
    } catch (err) {
      return [];
    }
  }

  function remember(entry) {
    try {
      const list = remembered().filter((e) => e.id !== entry.id);
      localStorage.setItem(KEY, JSON.stringify([entry, ...list].slice(0, 20)));
    } catch (err) {
      /* storage blocked: the link shown still works */
    }
  }

  const statusPath = (id, token) => `/needs/${encodeURIComponent(id)}#token=${encodeURIComponent(token)}`;

  // ---- the status of one need -------------------------------------------------------------------
  function stage(n) {
    if (n.status === "done" && n.outcome) return L.outcome[n.outcome] || n.outcome;
    return L.status[n.status] || n.status;
  }

  function showStatus(box, n, token) {
    const headers = { "X-Need-Token": token };
    const facts = [
      [T.mode, n.help_mode ? L.help[n.help_mode] : null],
      [T.when, n.help_at ? cd.time(n.help_at) : null],
      [T.place, n.help_place],
    ].filter(([, v]) => v);
    const withdraw = h("button", { type: "button", class: "secondary withdraw", text: T.withdraw });
    const result = h("p", { class: "result", role: "status" });
    withdraw.addEventListener("click", async () => {
      if (!window.confirm(T.withdrawConfirm)) return;
      withdraw.disabled = true;
      try {
        showStatus(box, await api(`/api/needs/${encodeURIComponent(n.need_id)}/withdraw`, { method: "POST", headers }), token);
      } catch (err) {
        withdraw.disabled = false;
        put(result, h("span", { class: "error", text: errorText(err) }));
      }
    });
    put(box,
      h("header", { class: "need-head" }, h("h2", { text: T.statusTitle }),
        h("span", { class: `status need-${n.status} ${n.outcome || ""}`, "data-status": n.status, text: stage(n) })),
      h("p", { class: "need-enterprise", text: n.enterprise }),
      h("p", { class: "muted", text: [cd.time(n.created_at), n.region, n.industry, T.workers.replace("{n}", n.workers_affected)].filter(Boolean).join(" · ") }),
      h("h3", { text: T.problem }), cd.longText(n.problem),
      n.photos.map((url) => cd.photo(url, headers)),
      h("h3", { text: T.experts }),
      n.experts.length ? h("ul", { class: "need-experts" }, n.experts.map((e) => h("li", {},
        h("strong", { text: e.name }), e.title ? ` · ${e.title}` : ""))) : h("p", { class: "muted", text: T.noExperts }),
      facts.length ? h("dl", { class: "facts" }, facts.map(([k, v]) => h("div", {}, h("dt", { text: k }), h("dd", { text: v })))) : null,
      n.status === "done" ? h("section", { class: "need-outcome" }, h("h3", { text: T.outcomeTitle }),
        n.outcome_note ? h("p", { class: "text", text: n.outcome_note }) : null,
        n.workers_helped !== null ? h("p", { text: T.helped.replace("{n}", n.workers_helped) }) : null) : null,
      n.status === "withdrawn" ? h("p", { class: "note", text: T.withdrawn }) : null,
      n.can_withdraw ? h("div", { class: "actions" }, withdraw) : null,
      result);
    cd.show(box);
  }

  async function follow(id, token) {
    const box = $("status");
    const load = async () => {
      try {
        showStatus(box, await api(`/api/needs/${encodeURIComponent(id)}`, { headers: { "X-Need-Token": token } }), token);
        return true;
      } catch (err) {
        put(box, h("p", { class: "error", text: err.status === 404 ? T.gone : errorText(err) }));
        cd.show(box);
        return false;
      }
    };
    if (await load()) setInterval(load, POLL_MS);
  }

  // ---- the form ---------------------------------------------------------------------------------
  /** A refused field (422 "field: why") marked and focused; the message names it as the form does. */
  function refuse(form, err) {
    const error = $("form-error");
    const field = err.status === 422 ? String(err.detail).split(":")[0].split(".").pop() : null;
    const input = field ? form.querySelector(`[data-field="${CSS.escape(field)}"]`) : null;
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    let label = "";
    if (input) {
      input.setAttribute("aria-invalid", "true");
      const named = input.tagName === "FIELDSET" ? input.querySelector("legend") : form.querySelector(`label[for="${input.id}"]`);
      label = named ? `${named.textContent.trim()}：` : "";
      (input.tagName === "FIELDSET" ? input.querySelector("input") : input).focus();
    }
    error.textContent = err.status === 422 ? `${T.invalid}${label}${err.detail}` : errorText(err);
    cd.show(error);
  }

  function body(form) {
    const picked = (name) => Array.from(form.querySelectorAll(`input[name="${name}"]:checked`), (b) => b.value);
    return {
      station_id: cd.data.station,
      enterprise: $("enterprise").value,
      contact_name: $("contact-name").value,
      contact_phone: $("contact-phone").value,
      industry: $("industry").value || null,
      region: $("region").value || null,
      problem: $("problem").value,
      urgency: picked("urgency")[0] || "normal",
      help_wanted: picked("help_wanted"),
      workers_affected: Number($("workers").value || 0),
    };
  }

  async function sendPhotos(filed, files, note) {
    const failed = [];
    for (const [i, file] of files.entries()) {
      note.textContent = T.photoSending.replace("{n}", i + 1).replace("{total}", files.length);
      const form = new FormData();
      form.append("photo", file);
      try {
        await api(`/api/needs/${encodeURIComponent(filed.need_id)}/photos`, { method: "POST", form, headers: { "X-Need-Token": filed.token } });
      } catch (err) {
        failed.push(`${file.name}（${errorText(err)}）`);
      }
    }
    note.textContent = failed.length ? `${T.photoFailed}${failed.join("；")}` : "";
  }

  function showFiled(filed) {
    const link = h("input", { class: "need-link", readonly: true, value: filed.status_url, "aria-label": T.filedTitle });
    const copy = h("button", { type: "button", class: "secondary", text: T.copy });
    copy.addEventListener("click", async () => {
      link.select();
      try {
        await navigator.clipboard.writeText(filed.status_url);
      } catch (err) {
        document.execCommand("copy");
      }
      copy.textContent = T.copied;
    });
    const note = h("p", { class: "muted", role: "status" });
    put($("filed"), h("h2", { text: T.filedTitle }), h("p", { class: "note", text: T.keepLink }), link,
      h("div", { class: "actions" }, copy, h("a", { class: "button", href: statusPath(filed.need_id, filed.token), text: T.open })), note);
    cd.show($("filed"));
    return note;
  }

  function setUpForm() {
    const form = $("need-form");
    const submit = $("submit-need");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      cd.show($("form-error"), false);
      const files = Array.from($("photos").files || []);
      if (files.length > cd.data.max_photos) {
        refuse(form, new cd.ApiError(422, `photo: ${T.tooManyPhotos.replace("{n}", cd.data.max_photos)}`));
        return;
      }
      if (!form.querySelector('input[name="help_wanted"]:checked')) {
        refuse(form, new cd.ApiError(422, `help_wanted: ${T.pickHelp}`));
        return;
      }
      submit.disabled = true;
      submit.textContent = T.sending;
      let filed;
      try {
        filed = await api("/api/needs", { method: "POST", body: body(form) });
      } catch (err) {
        submit.disabled = false;
        submit.textContent = form.dataset.submitText;
        refuse(form, err);
        return;
      }
      remember({ id: filed.need_id, token: filed.token, enterprise: filed.enterprise, at: filed.created_at });
      cd.show(form, false);
      cd.show($("mine"), false);
      const note = showFiled(filed);
      if (files.length) await sendPhotos(filed, files, note);
      follow(filed.need_id, filed.token);
    });
    form.dataset.submitText = submit.textContent;
    const mine = remembered();
    if (mine.length) {
      put($("mine-list"), mine.map((e) => h("li", {}, h("a", { href: statusPath(e.id, e.token), text: e.enterprise }),
        " ", h("span", { class: "muted", text: cd.time(e.at) }))));
      cd.show($("mine"));
    }
  }

  if (cd.data.station) {
    setUpForm();
  } else {
    const token = new URLSearchParams(location.hash.slice(1)).get("token")
      || (remembered().find((e) => e.id === cd.data.need) || {}).token || "";
    follow(cd.data.need, token);
  }
})();
