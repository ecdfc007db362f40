/* The worker chat of one site: ask, see past cases, or follow a ticket with a master.
   Tickets (id + token) are kept in localStorage, so they survive a reload on this phone. */
"use strict";

(() => {
  const { h, put, api, T, errorText } = cd;
  const SITE = cd.data.site;
  const POLL_MS = 4000;
  const STORE = "craftdesk.tickets";
  const CURRENT = "craftdesk.current";
  const DRAFT = `craftdesk.draft.${SITE}`;
  const LIMIT = 2000;  // characters of a question, as the API counts them
  const thread = document.getElementById("thread");
  const form = document.getElementById("ask-form");
  const input = document.getElementById("question");
  const button = document.getElementById("ask-button");
  const counter = document.getElementById("question-count");
  const views = new Map(); // ticket id -> TicketView

  // ---- stored tickets ----------------------------------------------------------------------
  function stored() {
    try {
      return JSON.parse(localStorage.getItem(STORE) || "[]");
    } catch (err) {
      return [];
    }
  }

  function remember(ticket, text) {
    const entry = { id: ticket.ticket_id, token: ticket.token, text, site: SITE, at: new Date().toISOString() };
    const rest = stored().filter((t) => t.id !== entry.id);
    localStorage.setItem(STORE, JSON.stringify([entry, ...rest].slice(0, 20)));
    localStorage.setItem(CURRENT, entry.id);
    renderHistory();
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

  async function ask(text) {
    const mine = add(h("section", { class: "bubble me" }, h("p", { class: "text", text })));
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
    if (answer.decision === "suggest") {
      cases(answer, text);
    } else if (answer.ticket) {  // confirm or route: the same call opened the ticket
      const view = showTicket(remember(answer.ticket, text));
      if (answer.shown) view.el.before(cases(answer, text, view));  // the case first, then the ticket confirming it
    }
    reply.scrollIntoView({ block: "start" });
  }

  /** The case(s) the policy stands behind (``answer.shown`` of them), with 解决了 / 没解决: a
      trusted suggestion, or (with ``ticketView``) the case an expert is asked to confirm,
      marked as unconfirmed. Cases below the policy's floor are never shown to a worker. */
  function cases(answer, question, ticketView = null) {
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
        const result = await api(`/api/questions/${encodeURIComponent(answer.question_id)}/feedback`,
          { method: "POST", body: { solved, case_id: caseId } });
        if (solved) {
          done(T.solvedThanks);
          if (toConfirm) ticketView.refresh();  // solved by the proposed case: the ticket closed
        } else {
          done(T.alreadyWithExpert);
          if (toConfirm) ticketView.el.scrollIntoView({ behavior: "smooth" });
          else showTicket(remember(result.ticket, question));
        }
      } catch (err) {
        buttons.forEach((b) => { b.disabled = false; });
        say(errorText(err), "bot error");
      }
    }
    return add(h("section", { class: toConfirm ? "cases related" : "cases" },
      answer.suggestions.slice(0, answer.shown).map(card), note));
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
      }, "★"));
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

    start() {
      this.refresh();
      this.timer = setInterval(() => this.refresh(), POLL_MS);
    }

    stop() {
      clearInterval(this.timer);
    }

    async refresh() {
      let ticket;
      try {
        ticket = await api(`/api/tickets/${encodeURIComponent(this.entry.id)}`, { headers: this.headers });
      } catch (err) {
        if (err.status === 404) {
          this.stop();
          put(this.messages, h("p", { class: "muted", text: T.ticketGone }));
          [this.writer, this.closer, this.withdrawRow, this.stage, this.leave].forEach((el) => { el.hidden = true; });
        }
        return;
      }
      this.show(ticket);
    }

    show(ticket) {
      const stage = ticket.stage || ticket.status;
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

    async sendPhoto() {
      const file = this.file.files[0];
      if (!file) return;
      const form = new FormData();
      form.append("photo", file);
      form.append("text", this.reply.value.trim());
      if (await this.post("photos", { form })) this.reply.value = "";
      this.file.value = "";
      this.refresh();
    }

    rate(n) {
      this.rating = n;
      this.stars.forEach((star, i) => {
        star.classList.toggle("on", i < n);
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

  // ---- earlier tickets from this browser ------------------------------------------------------
  function renderHistory() {
    const entries = stored();
    const box = document.getElementById("history");
    box.hidden = entries.length === 0;
    put(document.getElementById("history-list"), ...entries.map((entry) =>
      h("li", {},
        h("button", { type: "button", class: "link", onclick: () => showTicket(entry) },
          h("span", { class: "history-text", text: entry.text }),
          h("span", { class: "muted", text: cd.time(entry.at) })))));
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
    try {
      await ask(text);
      keepDraft();  // sent: the draft goes (unless a new one was typed meanwhile)
    } catch (err) {
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
  const current = stored().find((t) => t.id === localStorage.getItem(CURRENT));
  if (current) showTicket(current);
})();
