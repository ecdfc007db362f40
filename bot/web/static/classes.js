/* The classes page in three modes (page data "mode"): the upcoming catalogue with a 报名 form per
   class; a sign-up's private page (the token in the link's fragment, sent as X-Signup-Token) with
   the class, the attendance, the online link and the recording, and cancelling; the door page a
   class's QR code opens, where an attendee enters their phone to check in. Times are shown in
   Beijing time whatever the phone's zone. */
"use strict";

(() => {
  const { h, put, api, T, errorText, data } = cd;
  const body = document.getElementById("class-body");
  const note = document.getElementById("class-note");
  const TOKENS = "craftdesk.signups"; // sign-up id -> token, so this phone finds its sign-ups again

  const WHEN = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "long", day: "numeric", weekday: "short",
    hour: "2-digit", minute: "2-digit", hour12: false,
  });
  const when = (iso) => WHEN.format(new Date(iso));

  function say(text, isError = false) {
    note.textContent = text;
    note.className = isError ? "error" : "note";
    cd.show(note, Boolean(text));
  }

  function remember(id, token) {
    try {
      const kept = JSON.parse(localStorage.getItem(TOKENS) || "{}");
      kept[id] = token;
      localStorage.setItem(TOKENS, JSON.stringify(kept));
    } catch (err) { /* storage blocked: the link still works */ }
  }

  function facts(c) {
    const seats = c.seats_left === null ? T.unlimited
      : c.seats_left > 0 ? T.seatsLeft.replace("{n}", c.seats_left) : T.full;
    const row = (label, value) => (value ? [h("dt", { text: label }), h("dd", { text: value })] : []);
    return h("dl", {},
      row(T.teacher, c.teacher ? `${c.teacher}${c.teacher_title ? `（${c.teacher_title}）` : ""}` : ""),
      row(T.when, `${when(c.starts_at)} · ${T.minutes.replace("{n}", c.minutes)}`),
      row(T.where, c.kind === "cloud" ? T.online : c.place || ""),
      row(T.topics, (c.topics || []).join("、")),
      h("dt", { class: "visually-hidden", text: T.signUp }), h("dd", { class: "seats", text: seats }));
  }

  function heading(c, tag = "h2") {
    return h(tag, {}, c.title, h("span", { class: "class-kind", text: T.kinds[c.kind] || c.kind }));
  }

  // ---- the catalogue -----------------------------------------------------------------------------
  function signupForm(c, card) {
    const id = (name) => `${name}-${c.class_id}`;
    const field = (name, attrs) => {
      const input = h("input", { id: id(name), required: true, ...attrs });
      return [h("label", { for: id(name), text: T[name] }), input];
    };
    const [nameLabel, name] = field("name", { maxlength: 50, autocomplete: "name" });
    const [entLabel, enterprise] = field("enterprise", { maxlength: 100, autocomplete: "organization" });
    const [phoneLabel, phone] = field("phone", { type: "tel", inputmode: "tel", maxlength: 20, autocomplete: "tel" });
    const result = h("div", { role: "status" });
    const submit = h("button", { type: "submit", text: T.submit });
    const form = h("form", { class: "class-form", novalidate: true, "aria-label": `${T.signUp}：${c.title}` },
      nameLabel, name, entLabel, enterprise, phoneLabel, phone, submit, result);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = { name: name.value.trim(), enterprise: enterprise.value.trim(), phone: phone.value.trim() };
      const missing = [[name, T.name], [enterprise, T.enterprise], [phone, T.phone]].filter(([el]) => !el.value.trim());
      [name, enterprise, phone].forEach((el) => el.removeAttribute("aria-invalid"));
      if (missing.length) {
        missing.forEach(([el]) => el.setAttribute("aria-invalid", "true"));
        put(result, h("p", { class: "error", text: T.fill + missing.map(([, label]) => label).join("、") }));
        missing[0][0].focus();
        return;
      }
      submit.disabled = true;
      try {
        const made = await api(`/api/classes/${encodeURIComponent(c.class_id)}/signups`, { method: "POST", body: values });
        remember(made.signup_id, made.token);
        const link = new URL(made.url, location.href).href;
        put(card, heading(c), facts(made.course),
          h("p", { class: "note", text: T.signedUp }), h("p", {}, h("a", { href: link, class: "signup-link", text: link })));
      } catch (err) {
        submit.disabled = false;
        const text = err.status === 409 ? err.detail : errorText(err);
        put(result, h("p", { class: "error", text }));
      }
    });
    return form;
  }

  function classCard(c) {
    const card = h("section", { class: "card class-card", id: `class-${c.class_id}`, "data-class": c.class_id });
    const open = h("button", { type: "button", class: "secondary", text: T.signUp, disabled: c.seats_left === 0 });
    open.addEventListener("click", () => {
      open.replaceWith(signupForm(c, card));
      card.querySelector("input").focus();
    });
    put(card, heading(c), facts(c), c.description ? h("p", { class: "muted", text: c.description }) : null, open);
    return card;
  }

  async function catalogue() {
    put(body, h("p", { class: "muted", text: T.loading }));
    let classes;
    try {
      classes = await api(`/api/classes${data.site ? `?site=${encodeURIComponent(data.site)}` : ""}`);
    } catch (err) {
      put(body);
      say(errorText(err), true);
      return;
    }
    if (!classes.length) {
      put(body, h("p", { class: "muted", text: T.empty }));
      return;
    }
    put(body, classes.map(classCard));
    const chosen = data.class && document.getElementById(`class-${data.class}`);
    if (chosen) {
      chosen.classList.add("chosen");
      chosen.scrollIntoView({ block: "start" });
    }
  }

  // ---- a sign-up's own page ------------------------------------------------------------------------
  async function signup() {
    const match = /^#token=(.+)$/.exec(location.hash);
    if (!match) {
      say(T.missingToken, true);
      return;
    }
    const headers = { "X-Signup-Token": decodeURIComponent(match[1]) };
    const path = `/api/signups/${encodeURIComponent(data.signup)}`;
    let withdrawArmed = false;

    function show(s) {
      const state = s.cancelled_at ? T.statusCancelled : s.attended_at ? T.statusAttended : T.statusSignedUp;
      const link = (label, url) => (url ? h("p", {}, label, h("a", { href: url, rel: "noopener noreferrer", text: url })) : null);
      const withdraw = h("button", { type: "button", class: "secondary", text: T.withdraw });
      withdraw.addEventListener("click", async () => {
        if (!withdrawArmed) {
          withdrawArmed = true;
          withdraw.textContent = T.withdrawConfirm;
          return;
        }
        try {
          show(await api(path, { method: "DELETE", headers }));
          say(T.withdrawn);
        } catch (err) {
          say(err.status === 409 ? err.detail : errorText(err), true);
        }
      });
      put(body, h("section", { class: "card class-card" }, heading(s.course), facts(s.course),
        h("p", {}, T.status, h("strong", { class: "signup-state", text: state })),
        h("p", { class: "muted", text: `${s.name} · ${s.enterprise}` }),
        link(T.onlineLink, s.online_url),
        s.recording_url ? link(T.recording, s.recording_url) : h("p", { class: "muted", text: T.noRecording }),
        s.cancelled_at || s.attended_at ? null : withdraw));
    }

    try {
      show(await api(path, { headers }));
    } catch (err) {
      say(errorText(err), true);
    }
  }

  // ---- the door ----------------------------------------------------------------------------------
  function door() {
    const phone = h("input", { id: "door-phone", type: "tel", inputmode: "tel", maxlength: 20, autocomplete: "tel", required: true });
    const result = h("div", { role: "status" });
    const form = h("form", { class: "card class-form", novalidate: true },
      h("h2", { text: T.doorTitle }), h("label", { for: "door-phone", text: T.doorHint }), phone,
      h("button", { type: "submit", text: T.checkIn }), result);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!phone.value.trim()) {
        phone.setAttribute("aria-invalid", "true");
        put(result, h("p", { class: "error", text: T.fill + T.phone }));
        return;
      }
      try {
        const done = await api(`/api/classes/${encodeURIComponent(data.class)}/door`,
          { method: "POST", body: { code: data.door || "", phone: phone.value.trim() } });
        put(result, h("p", { class: "note", text: T.checkedIn.replace("{title}", done.title) }));
      } catch (err) {
        put(result, h("p", { class: "error", text: [403, 404, 409].includes(err.status) ? err.detail : errorText(err) }));
      }
    });
    put(body, form);
  }

  ({ catalogue, signup, door })[data.mode]();
})();
