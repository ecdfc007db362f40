/* The worker chat of one site: ask, see past cases, or follow a ticket with a master.
   Every question asked on this phone (its case and verdict, or its ticket: id + token) is kept
   in localStorage, so the history and the tickets survive a reload. */
"use strict";

(() => {
  const { h, put, api, T, errorText } = cd;
  const SITE = cd.data.site;
  // a ticket follows its live-update stream; polling is the fallback (?poll_ms= sets its pace: tests)
  const POLL_MS = Math.max(1000, Number(new URLSearchParams(location.search).get("poll_ms")) || 4000);
  const MAX_LIVE = 2;  // streams open at once: a browser holds only ~6 connections per server
  const live = new Set();  // the views following their stream
  const STORE = "craftdesk.history";  // [{key, kind: "case"/"ticket", text, at, ...}], newest first
  const LEGACY = "craftdesk.tickets";  // the older list of tickets only: merged in, then dropped
  const KEEP = 50;  // questions remembered
  const CURRENT = "craftdesk.current";
  const DRAFT = `craftdesk.draft.${SITE}`;
  const LIMIT = 2000;  // characters of a question, as the API counts them
  const MAX_PHOTO = 10 * 1024 * 1024;  // bytes, as the API takes them
  const thread = document.getElementById("thread");
  const form = document.getElementById("ask-form");
  const input = document.getElementById("question");
  const button = document.getElementById("ask-button");
  const counter = document.getElementById("question-count");
  const photoInput = document.getElementById("ask-photo");
  const attachment = document.getElementById("attachment");
  const attachmentImg = document.getElementById("attachment-img");
  const historyBox = document.getElementById("history");
  const views = new Map(); // ticket id -> TicketView
  const replays = new Map(); // question key -> the case shown again from the history

  // ---- the questions asked on this phone -----------------------------------------------------
  function read(name) {
    try {
      const list = JSON.parse(localStorage.getItem(name) || "[]");
      return Array.isArray(list) ? list.filter((e) => e && typeof e === "object") : [];
    } catch (err) {
      return [];
    }
  }

  function save(entries) {
    try {
      localStorage.setItem(STORE, JSON.stringify(entries.slice(0, KEEP)));
    } catch (err) { /* storage blocked or full: the page still works */ }
  }

  /** A question's key: its question id; a ticket from the older list has only its ticket id. */
  const keyOf = (entry) => entry.question_id || `ticket:${entry.id}`;

  function stored() {
    let entries = read(STORE);
    const legacy = read(LEGACY);
    if (legacy.length) {
      const known = new Set(entries.filter((e) => e.id).map((e) => e.id));
      const moved = legacy.filter((t) => t.id && t.token && !known.has(t.id))
        .map((t) => ({ ...t, kind: "ticket", key: `ticket:${t.id}` }));
      entries = [...moved, ...entries].sort((a, b) => String(b.at).localeCompare(String(a.at)));
      save(entries);
      try {
        localStorage.removeItem(LEGACY);
      } catch (err) { /* storage blocked */ }
    }
    return entries.map((e) => ({ ...e, key: e.key || keyOf(e) }));
  }

  /** Add a question (newest first), or change one already kept (its place stays). */
  function record(key, changes) {
    const entries = stored();
    const index = entries.findIndex((e) => e.key === key);
    let entry;
    if (index >= 0) {
      entry = { ...entries[index], ...changes };
      entries[index] = entry;
    } else {
      entry = { key, site: SITE, at: new Date().toISOString(), ...changes };
      entries.unshift(entry);
    }
    save(entries);
    renderHistory();
    return entry;
  }

  /** The case a worker was shown, as kept: what the history and a replay need. */
  const shownCase = (answer) => {
    const s = answer.shown > 0 ? answer.suggestions[0] : null;
    return s ? { case_id: s.case_id, title: s.title, answer: s.answer, solved_by: s.solved_by } : null;
  };

  function remember(ticket, text, questionId) {
    const entry = record(questionId, { kind: "ticket", question_id: questionId, text, id: ticket.ticket_id, token: ticket.token });
    localStorage.setItem(CURRENT, entry.id);
    return entry;
  }

  // ---- the thread ----------------------------------------------------------------------------
  function add(el) {
    thread.append(el);
    el.scrollIntoView({ block: "nearest", behavior: "smooth" });
    return el;
  }

  function say(text, kind = "bot") {
    return add(h("section", { class: `bubble ${kind}` }, h("p", { text })));
  }

  async function ask(text, photo = null) {
    const mine = add(h("section", { class: "bubble me" }, h("p", { class: "text", text }),
      photo ? h("img", { class: "photo", alt: "", src: URL.createObjectURL(photo) }) : null));
    const waiting = say(T.searching, "bot pending");
    let answer;
    try {
      answer = await api("/api/ask", { method: "POST", body: { text, site: SITE } });
    } catch (err) {
      mine.remove();  // not sent: the text goes back into the box
      throw err;
    } finally {
      waiting.remove();
    }
    const reply = say(answer.message);
    const qid = answer.question_id;
    if (answer.decision === "suggest" && shownCase(answer)) {
      record(qid, { kind: "case", question_id: qid, text, case: shownCase(answer) });
      cases(answer, text, null, photo);
      if (photo) say(T.photoPending, "bot pending-photo");
    } else if (answer.ticket) {  // confirm or route: the same call opened the ticket
      if (shownCase(answer)) record(qid, { question_id: qid, text, case: shownCase(answer) });
      const view = showTicket(remember(answer.ticket, text, qid));
      if (answer.shown) view.el.before(cases(answer, text, view));  // the case first, then the ticket confirming it
      if (photo) view.upload(photo);
    } else if (photo && !attached) {
      attach(photo);  // no ticket and no case (rejected): the photo was sent nowhere, it stays attached
    }
    if (answer.classes && answer.classes.length) reply.append(relatedClasses(answer.classes));
    reply.scrollIntoView({ block: "start" });
  }

  /** 相关课程: upcoming classes on the question's subject, each a link to it on /classes. */
  const CLASS_TIME = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", month: "numeric",
    day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });
  function relatedClasses(list) {
    return h("div", { class: "related-classes" }, h("h3", { text: T.relatedClasses }),
      h("ul", {}, list.map((c) => h("li", {},
        h("a", { href: c.url, class: "related-class", text: c.title }),
        ` · ${T.classKinds[c.kind] || ""} · ${CLASS_TIME.format(new Date(c.starts_at))}`))));
  }

  /** The case(s) the policy stands behind (``answer.shown`` of them), with 解决了 / 没解决: a
      trusted suggestion, or (with ``ticketView``) the case an expert is asked to confirm,
      marked as unconfirmed. Cases below the policy's floor are never shown to a worker. A photo
      the worker attached waits for 没解决 and goes to the ticket it opens. ``given`` (shown
      again from the history): the worker's earlier verdict, the buttons then stay disabled. */
  function cases(answer, question, ticketView = null, photo = null, given = null) {
    const toConfirm = ticketView !== null;
    const note = h("p", { class: "note", hidden: true });
    const buttons = [];
    const card = (s) => {
      const solved = h("button", { type: "button", class: "solved", text: T.solved });
      const notSolved = h("button", { type: "button", class: "secondary not-solved", text: T.notSolved });
      buttons.push(solved, notSolved);
      solved.addEventListener("click", () => verdict(true, s.case_id));
      notSolved.addEventListener("click", () => verdict(false, s.case_id));
      return h("article", { class: toConfirm ? "case unconfirmed" : "case" },
        h("div", { class: "case-label", text: toConfirm ? T.toConfirm : T.bestMatch }),
        h("h3", { text: s.title }),
        cd.longText(s.answer, toConfirm),
        s.solved_by ? h("p", { class: "credit", text: T.credit.replace("{name}", s.solved_by) }) : null,
        h("div", { class: "actions" }, solved, notSolved));
    };
    const done = (text) => {
      buttons.forEach((b) => { b.disabled = true; });
      note.textContent = text;
      note.hidden = false;
    };
    async function verdict(solved, caseId) {
      buttons.forEach((b) => { b.disabled = true; });
      try {  // either way the verdict is stored: it is what the policy learns from
        const qid = answer.question_id;
        const result = await api(`/api/questions/${encodeURIComponent(qid)}/feedback`,
          { method: "POST", body: { solved, case_id: caseId } });
        record(qid, { verdict: solved ? "solved" : "not_solved" });
        if (solved) {
          done(T.solvedThanks);
          if (toConfirm) ticketView.refresh();  // solved by the proposed case: the ticket closed
        } else {
          done(T.alreadyWithExpert);
          if (toConfirm) ticketView.el.scrollIntoView({ behavior: "smooth" });
          else {
            const view = showTicket(remember(result.ticket, question, qid));
            if (photo) view.upload(photo);
            photo = null;
          }
        }
      } catch (err) {
        buttons.forEach((b) => { b.disabled = false; });
        say(errorText(err), "bot error");
      }
    }
    const section = add(h("section", { class: toConfirm ? "cases related" : "cases" },
      answer.suggestions.slice(0, answer.shown).map(card), note));
    if (given) done(given === "solved" ? T.solvedThanks : T.alreadyWithExpert);
    return section;
  }

  // ---- a ticket ------------------------------------------------------------------------------
  class TicketView {
    constructor(entry) {
      this.entry = entry;
      this.headers = { "X-Ticket-Token": entry.token };
      this.signature = "";
      this.rating = null;
      this.expert = h("div", { class: "expert-card" }, h("p", { class: "muted", text: T.ticketWaiting }));
      this.status = h("span", { class: "status" });
      this.messages = h("div", { class: "messages" });
      this.reply = h("textarea", { rows: 2, maxlength: 4000, placeholder: T.replyPlaceholder, "aria-label": T.replyPlaceholder });
      this.file = h("input", { type: "file", accept: "image/jpeg,image/png,image/webp", class: "visually-hidden" });
      this.file.addEventListener("change", () => this.sendPhoto());
      this.stars = [1, 2, 3, 4, 5].map((n) => h("button", {
        type: "button", class: "star", "aria-label": `${n} ${T.stars}`, "aria-pressed": "false",
        onclick: () => this.rate(n),
      }, "☆"));
      this.writer = h("form", { class: "reply", onsubmit: (e) => { e.preventDefault(); this.send(); } },
        this.reply,
        h("div", { class: "reply-actions" },
          h("label", { class: "button secondary photo-button" }, this.file, T.photo),
          h("button", { type: "submit", text: T.send })));
      // rating and closing only once there is an answer; before it, the question can be withdrawn
      this.closer = h("div", { class: "rate", hidden: true },
        h("p", { text: T.rateTitle }), h("div", { class: "stars" }, this.stars),
        h("button", { type: "button", class: "secondary close-ticket", text: T.close, onclick: () => this.close() }));
      this.withdrawButton = h("button", {
        type: "button", class: "secondary withdraw", text: T.withdraw, onclick: () => this.withdraw(),
      });
      this.withdrawRow = h("div", { class: "withdraw-row", hidden: true }, this.withdrawButton);
      this.closed = h("p", { class: "note", text: T.closedThanks, hidden: true });
      this.given = h("p", { class: "given-rating", hidden: true });
      this.proposal = h("p", { class: "muted proposal", hidden: true });
      this.stage = h("p", { class: "stage-note", hidden: true });
      this.leave = h("p", { class: "muted leave-note", text: T.leaveNote, hidden: true });
      this.el = h("section", { class: "ticket", "data-ticket": entry.id },
        h("header", {}, h("h2", { text: T.ticketTitle }), this.status),
        this.expert, this.stage, this.leave, this.proposal, this.messages, this.writer, this.closer,
        this.withdrawRow, this.closed, this.given);
    }

    /** Follow the ticket's stream (at most MAX_LIVE views at once); poll when there is none. */
    start() {
      if (live.size >= MAX_LIVE) {
        this.poll();
        return;
      }
      live.add(this);
      this.stream = cd.follow(`/api/tickets/${encodeURIComponent(this.entry.id)}/events`, this.headers, {
        onEvent: (name, ticket) => { if (name === "ticket") this.show(ticket); },
        onFallback: () => { this.unfollow(); this.poll(); },
        onRefused: () => { this.unfollow(); this.refresh(); },  // the GET tells the page why
      });
    }

    poll() {
      this.refresh();
      clearInterval(this.timer);
      this.timer = setInterval(() => this.refresh(), POLL_MS);
    }

    unfollow() {
      if (this.stream) this.stream.stop();
      this.stream = null;
      live.delete(this);
    }

    stop() {
      clearInterval(this.timer);
      this.unfollow();
    }

    async refresh() {
      let ticket;
      try {
        ticket = await api(`/api/tickets/${encodeURIComponent(this.entry.id)}`, { headers: this.headers });
      } catch (err) {
        if (err.status === 404) {
          this.stop();
          noteStage(this.entry, "gone");
          put(this.messages, h("p", { class: "muted", text: T.ticketGone }));
          [this.writer, this.closer, this.withdrawRow, this.stage, this.leave].forEach((el) => { el.hidden = true; });
        }
        return;
      }
      this.show(ticket);
    }

    show(ticket) {
      const stage = ticket.stage || ticket.status;
      noteStage(this.entry, stage);
      this.status.textContent = T.status[stage] || stage;
      this.status.className = `status ${stage}`;
      this.showStage(ticket, stage);
      if (ticket.expert) {
        const e = ticket.expert;
        put(this.expert,
          h("span", { class: "label", text: T.expertLabel }),
          h("strong", { class: "expert-name", text: e.name }),
          e.title ? h("span", { class: "expert-title", text: e.title }) : null,
          e.org ? h("span", { class: "expert-org", text: e.org }) : null);
      }
      const proposal = ticket.proposed_case && T.proposal[ticket.proposed_case.state];
      this.proposal.textContent = proposal || "";
      this.proposal.hidden = !proposal;
      const signature = ticket.messages.map((m) => m.id).join(",");
      const answers = ticket.messages.filter((m) => m.author === "expert").map((m) => m.id);
      if (this.answers && answers.some((id) => !this.answers.has(id))) announceReply();
      this.answers = new Set(answers);
      if (signature !== this.signature) {
        this.signature = signature;
        put(this.messages, ...ticket.messages.map((m) => this.message(m, ticket)));
      }
      const closed = ticket.status === "closed";
      this.writer.hidden = closed;
      this.closer.hidden = closed || !ticket.has_answer;
      this.withdrawRow.hidden = closed || ticket.has_answer;
      this.closed.hidden = !closed;
      this.given.hidden = !(closed && ticket.rating);
      if (closed) {
        this.closed.textContent = ticket.rating ? T.closedThanks : ticket.has_answer ? T.closedUnrated : T.withdrawn;
        if (ticket.rating) {
          this.given.textContent = T.yourRating + "★".repeat(ticket.rating) + "☆".repeat(5 - ticket.rating);
        }
        this.stop();
      }
    }

    /** Who has the question now, the typical wait, and that the page may be closed meanwhile. */
    showStage(ticket, stage) {
      const waiting = stage === "waiting" || stage === "passed_on";
      const name = ticket.expert ? ticket.expert.name : T.expert;
      const note = (T.stageNote[stage] || "").replace("{name}", name);
      const wait = waiting && ticket.typical_wait_minutes
        ? T.typicalWait.replace("{n}", String(ticket.typical_wait_minutes)) : "";
      this.stage.textContent = [note, wait].filter(Boolean).join(" ");
      this.stage.hidden = !this.stage.textContent;
      this.leave.hidden = !(waiting || stage === "handling");
    }

    message(m, ticket) {
      const who = m.author === "worker" ? T.you
        : m.author === "expert" ? (ticket.expert ? ticket.expert.name : T.expert) : T.system;
      return h("div", { class: `msg ${m.author}` },
        h("div", { class: "meta" }, `${who} · ${cd.time(m.created_at)}`),
        m.text ? h("p", { class: "text", text: m.text }) : null,
        m.photo_url ? cd.photo(m.photo_url, this.headers) : null);
    }

    async post(path, init) {
      try {
        await api(`/api/tickets/${encodeURIComponent(this.entry.id)}/${path}`, { method: "POST", headers: this.headers, ...init });
        return true;
      } catch (err) {
        say(errorText(err), "bot error");
        return false;
      }
    }

    async send() {
      const text = this.reply.value.trim();
      if (!text) return;
      if (await this.post("messages", { body: { text } })) this.reply.value = "";
      this.refresh();
    }

    /** A photo (with an optional caption) onto this ticket; true when it went up. */
    async upload(file, text = "") {
      const form = new FormData();
      form.append("photo", file);
      form.append("text", text);
      const sent = await this.post("photos", { form });
      this.refresh();
      return sent;
    }

    async sendPhoto() {
      const file = this.file.files[0];
      if (!file) return;
      if (file.size > MAX_PHOTO) {
        say(T.photoTooBig, "bot error");
      } else if (await this.upload(file, this.reply.value.trim())) {
        this.reply.value = "";
      }
      this.file.value = "";
    }

    rate(n) {
      this.rating = n;
      this.stars.forEach((star, i) => {
        star.classList.toggle("on", i < n);
        star.textContent = i < n ? "★" : "☆";  // filled or outlined: not by colour alone
        star.setAttribute("aria-pressed", String(i < n));
      });
    }

    async close() {
      await this.post("close", { body: { rating: this.rating } });
      this.refresh();
    }

    /** Close a question nobody has answered yet (no rating): two taps, so a glove can't do it by chance. */
    async withdraw() {
      if (!this.withdrawArmed) {
        this.withdrawArmed = true;
        this.withdrawButton.textContent = T.withdrawConfirm;
        setTimeout(() => {
          this.withdrawArmed = false;
          this.withdrawButton.textContent = T.withdraw;
        }, 5000);
        return;
      }
      await this.post("close", { body: { rating: null } });
      this.refresh();
    }
  }

  /** An answer came: the phone vibrates where the browser allows it, and while the page is not
      looked at its tab title says so. */
  function announceReply() {
    try {
      if (navigator.vibrate) navigator.vibrate(200);
    } catch (err) { /* not allowed here */ }
    if (document.visibilityState !== "visible" && !document.title.startsWith(T.newReply)) {
      document.title = T.newReply + document.title;
    }
  }
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && document.title.startsWith(T.newReply)) {
      document.title = document.title.slice(T.newReply.length);
    }
  });

  function showTicket(entry) {
    let view = views.get(entry.id);
    if (!view) {
      view = new TicketView(entry);
      views.set(entry.id, view);
      add(view.el);
      view.start();
    } else {
      view.el.scrollIntoView({ behavior: "smooth" });
    }
    localStorage.setItem(CURRENT, entry.id);
    return view;
  }

  // ---- the questions asked on this phone: the history ---------------------------------------
  /** A ticket's stage as last seen, kept with its question (re-rendered only on a change). */
  function noteStage(entry, stage) {
    const kept = stored().find((e) => e.id === entry.id);
    if (kept && kept.stage !== stage) record(kept.key, { stage });
  }

  function historyItem(entry) {
    const isTicket = entry.kind === "ticket" && entry.id && entry.token;
    const meta = [];
    if (entry.case) {
      meta.push(h("span", { class: "history-case", text: T.historyCase + entry.case.title }));
      meta.push(h("span", {
        class: `history-verdict ${entry.verdict || "none"}`,
        text: entry.verdict ? T.verdict[entry.verdict] : T.noVerdict,
      }));
    }
    if (isTicket) {
      const stage = entry.stage;
      const label = stage === "gone" ? T.historyGone : stage ? T.status[stage] || stage : T.statusUnknown;
      meta.push(h("span", { class: `status ${stage || ""}`, text: label }));
    }
    return h("li", { "data-question": entry.key, "data-kind": isTicket ? "ticket" : "case" },
      h("button", { type: "button", class: "link history-entry", onclick: () => open(entry) },
        h("span", { class: "history-row" },
          h("span", { class: "history-text", text: entry.text || "" }),
          h("span", { class: "muted", text: entry.at ? cd.time(entry.at) : "" })),
        meta.length ? h("span", { class: "history-meta" }, meta) : null));
  }

  function renderHistory() {
    const entries = stored().filter((e) => (e.kind === "ticket" && e.id && e.token) || e.case);
    historyBox.hidden = entries.length === 0;
    put(document.getElementById("history-list"), ...entries.map(historyItem));
  }

  /** A ticket opens as it is; a suggested case is shown again with its question. */
  function open(entry) {
    if (entry.kind === "ticket" && entry.id && entry.token) {
      showTicket(entry);
      return;
    }
    const shown = replays.get(entry.key);
    if (shown && shown.isConnected) {
      shown.scrollIntoView({ behavior: "smooth" });
      return;
    }
    const mine = add(h("section", { class: "bubble me replay" }, h("p", { class: "text", text: entry.text || "" })));
    const answer = { question_id: entry.question_id, suggestions: [entry.case], shown: 1 };
    cases(answer, entry.text, null, null, entry.verdict || null);
    replays.set(entry.key, mine);
    mine.scrollIntoView({ block: "start", behavior: "smooth" });
  }

  /** The stages of the kept tickets not known to be over, read with their tokens (a few at a
      time) when the history is opened. */
  let checking = false;
  async function refreshStages() {
    if (checking) return;
    checking = true;
    try {
      const pending = stored().filter((e) => e.kind === "ticket" && e.id && e.token
        && e.stage !== "closed" && e.stage !== "gone" && !views.has(e.id));
      const next = async () => {
        for (let entry = pending.shift(); entry; entry = pending.shift()) {
          try {
            const ticket = await api(`/api/tickets/${encodeURIComponent(entry.id)}`,
              { headers: { "X-Ticket-Token": entry.token } });
            noteStage(entry, ticket.stage || ticket.status);
          } catch (err) {
            if (err.status === 404) noteStage(entry, "gone");
          }
        }
      };
      await Promise.all([next(), next(), next(), next()]);
    } finally {
      checking = false;
    }
  }

  // ---- asking --------------------------------------------------------------------------------
  const length = (text) => [...text].length;  // characters, not UTF-16 units

  /** The live count, and the box grown to its text (up to the CSS max-height). */
  function fit() {
    const n = length(input.value);
    counter.textContent = `${n}/${LIMIT}`;
    counter.classList.toggle("over", n > LIMIT);
    input.style.height = "auto";
    input.style.height = `${input.scrollHeight + input.offsetHeight - input.clientHeight}px`;
  }

  /** The box's text survives a reload, a crash or a failed send until the question is sent. */
  function keepDraft() {
    try {
      if (input.value.trim()) localStorage.setItem(DRAFT, input.value);
      else localStorage.removeItem(DRAFT);
    } catch (err) { /* storage blocked: the box still holds it */ }
  }

  /** The photo attached to the next question: a thumbnail with a remove button until it is sent. */
  let attached = null;
  function attach(file) {
    if (attachmentImg.src) URL.revokeObjectURL(attachmentImg.src);
    attached = file;
    if (file) attachmentImg.src = URL.createObjectURL(file);
    else attachmentImg.removeAttribute("src");
    attachment.hidden = !file;
    photoInput.value = "";
  }
  photoInput.addEventListener("change", () => {
    const file = photoInput.files[0];
    if (!file) return;
    if (file.size > MAX_PHOTO) {
      photoInput.value = "";
      say(T.photoTooBig, "bot error");
      return;
    }
    attach(file);
  });
  document.getElementById("attachment-remove").addEventListener("click", () => attach(null));

  let failure = null;  // the last failed send's message, with its retry button

  function failed(err, text) {
    if (!input.value.trim()) input.value = text;
    fit();
    keepDraft();
    const retry = h("button", { type: "button", class: "retry", text: T.retry });
    failure = add(h("section", { class: "bubble bot error" },
      h("p", { text: errorText(err) }), h("p", { class: "muted", text: T.keptDraft }), retry));
    retry.addEventListener("click", () => form.requestSubmit());
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (failure) failure.remove();
    failure = null;
    const text = input.value.trim();
    if (!text) {
      say(T.empty, "bot error");
      return;
    }
    if (length(text) > LIMIT) {
      say(T.tooLong, "bot error");
      return;
    }
    button.disabled = true;
    keepDraft();
    input.value = "";
    fit();
    const photo = attached;
    attach(null);
    try {
      await ask(text, photo);
      keepDraft();  // sent: the draft goes (unless a new one was typed meanwhile)
    } catch (err) {
      if (photo && !attached) attach(photo);  // not sent: the photo stays attached too
      failed(err, text);
    } finally {
      button.disabled = false;
    }
  });
  input.addEventListener("input", () => {
    fit();
    keepDraft();
  });

  try {
    input.value = localStorage.getItem(DRAFT) || "";
  } catch (err) { /* storage blocked */ }
  fit();
  renderHistory();
  historyBox.addEventListener("toggle", () => { if (historyBox.open) refreshStages(); });
  const current = stored().find((t) => t.kind === "ticket" && t.id && t.id === localStorage.getItem(CURRENT));
  if (current) showTicket(current);
})();
