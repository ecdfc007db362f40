/* The expert console: log in by the admin-issued link (/expert#token=...), see the queue,
   claim / decline / answer, with similar past cases next to the question. */
"use strict";

(() => {
  const { h, put, api, T, errorText } = cd;
  const KEY = "craftdesk.expertToken";
  const QUEUE_MS = 15000;  // the needs always; the queue too when the live stream fails
  const DETAIL_MS = 6000;  // the open ticket, when the live stream fails
  const main = document.querySelector("main.console");
  const queueList = document.getElementById("queue");
  const detailBox = document.getElementById("detail");

  // the token rides in the URL fragment once; keep it on this device and take it out of the URL
  const linked = new URLSearchParams(location.hash.slice(1));
  const fromLink = linked.get("token");
  const linkedTicket = linked.get("ticket");  // a notification's link opens its ticket
  if (fromLink) {
    localStorage.setItem(KEY, fromLink);
    history.replaceState(null, "", location.pathname + location.search);
  }
  const token = localStorage.getItem(KEY);
  const auth = { Authorization: `Bearer ${token}` };
  let current = null; // the open ticket's view
  let streaming = true;  // the live stream says when to refetch; false: polling (its fallback)
  let known = null;  // the queue's ticket ids as last shown

  function loggedOut(message) {
    localStorage.removeItem(KEY);
    ["queue-pane", "detail-pane"].forEach((id) => cd.show(document.getElementById(id), false));
    const box = document.getElementById("login-needed");
    if (message) box.append(h("p", { class: "error", text: message }));
    cd.show(box);
  }

  function failed(err, where) {
    if (err.status === 401) loggedOut(T.unauthorized);
    else where.append(h("p", { class: "error", text: errorText(err) }));
  }

  function statusLabel(t) {
    return t.claimed && t.status === "assigned" ? T.claimed : (T.status[t.status] || t.status);
  }

  // ---- the queue -----------------------------------------------------------------------------
  async function loadQueue() {
    let tickets;
    try {
      tickets = await api("/api/expert/tickets", { headers: auth });
    } catch (err) {
      failed(err, queueList);
      return;
    }
    const ids = tickets.map((t) => t.ticket_id);
    if (known && ids.some((id) => !known.has(id))) announceTicket();
    known = new Set(ids);
    put(queueList, ...(tickets.length ? tickets.map((t) => h("li", {},
      h("button", {
        type: "button", class: `queue-item ${current && current.id === t.ticket_id ? "active" : ""}`,
        "data-ticket": t.ticket_id, onclick: () => open(t.ticket_id),
      },
        h("span", { class: "queue-top" },
          h("span", { class: `status ${t.status}`, text: statusLabel(t) }),
          T.tier[t.tier] ? h("span", { class: "badge", text: T.tier[t.tier] }) : null,
          h("span", { class: "muted", text: cd.time(t.created_at) })),
        h("span", { class: "queue-text", text: t.text }),
        t.site ? h("span", { class: "muted", text: t.site.name }) : null))) : [h("li", { class: "muted", text: T.queueEmpty })]));
  }

  /** A new ticket came: while the console is not looked at, its tab title says so. */
  function announceTicket() {
    if (document.visibilityState !== "visible" && !document.title.startsWith(T.newTicket)) {
      document.title = T.newTicket + document.title;
    }
  }
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && document.title.startsWith(T.newTicket)) {
      document.title = document.title.slice(T.newTicket.length);
    }
  });

  /** The queue's live stream: each notice names the tickets that came, changed or left. */
  function followQueue() {
    cd.follow("/api/expert/events", auth, {
      onEvent: (name, notice) => {
        if (name !== "queue") return;
        loadQueue();
        if (current && !current.stopped && notice.tickets.includes(current.id)) current.refresh();
      },
      onFallback: () => {
        streaming = false;
        loadQueue();
        setInterval(loadQueue, QUEUE_MS);
        if (current && !current.stopped) current.poll();
      },
      onRefused: (status) => { if (status === 401) loggedOut(T.unauthorized); },
    });
  }

  // ---- the needs lists the expert was matched to (需求清单): accept or decline -------------------
  async function loadNeeds() {
    const N = T.needs;
    const list = document.getElementById("expert-needs");
    let needs;
    try {
      needs = await api("/api/expert/needs", { headers: auth });
    } catch (err) {
      return;  // the tickets' list reports a lost login
    }
    [list, document.getElementById("needs-title")].forEach((el) => cd.show(el, needs.length > 0));
    const respond = (n, what) => async () => {
      try {
        await api(`/api/expert/needs/${encodeURIComponent(n.need_id)}/${what}`, { method: "POST", headers: auth });
      } catch (err) {
        failed(err, list);
        return;
      }
      loadNeeds();
    };
    put(list, needs.map((n) => {
      const open = ["matched", "scheduled"].includes(n.status);
      const plan = n.help_at && N.plan.replace("{mode}", N.labels.help[n.help_mode] || "")
        .replace("{when}", cd.time(n.help_at)).replace("{place}", n.help_place || "");
      return h("li", { class: "need-card", "data-need": n.need_id },
        h("span", { class: "queue-top" },
          h("span", { class: `status need-${n.status}`, text: N.labels.status[n.status] }),
          h("span", { class: "badge", text: N.labels.match[n.your_state] }),
          h("span", { class: "muted", text: cd.time(n.created_at) })),
        h("strong", { text: n.enterprise }),
        h("span", { class: "queue-text", text: n.problem }),
        h("span", { class: "muted", text: [n.region, n.help_wanted.map((m) => N.labels.help[m]).join("、"),
          N.workers.replace("{n}", n.workers_affected)].filter(Boolean).join(" · ") }),
        plan ? h("span", { class: "plan", text: plan }) : null,
        n.contact_phone ? h("span", { text: N.contact.replace("{name}", n.contact_name).replace("{phone}", n.contact_phone) }) : null,
        open && n.your_state === "asked" ? h("span", { class: "actions" },
          h("button", { type: "button", class: "small accept-need", text: N.accept, onclick: respond(n, "accept") }),
          h("button", { type: "button", class: "secondary small decline-need", text: N.decline, onclick: respond(n, "decline") })) : null);
    }));
  }

  // ---- one ticket ----------------------------------------------------------------------------
  class TicketDetail {
    constructor(id) {
      this.id = id;
      this.base = `/api/expert/tickets/${encodeURIComponent(id)}`;
      this.question = h("p", { class: "question text" });
      this.site = h("p", { class: "muted" });
      this.status = h("span", { class: "status" });
      this.actions = h("div", { class: "actions" });
      this.messages = h("div", { class: "messages" });
      this.signature = null;
      this.answer = h("textarea", { rows: 6, maxlength: 4000, placeholder: T.answerPlaceholder, "aria-label": T.answerPlaceholder });
      this.file = h("input", { type: "file", accept: "image/jpeg,image/png,image/webp", class: "visually-hidden" });
      this.file.addEventListener("change", () => this.sendPhoto());
      this.notes = h("div", { class: "notes" });
      this.proposal = h("div", { class: "proposal", hidden: true });
      this.similar = h("div", { class: "similar-list" }, h("p", { class: "muted", text: T.loading }));
      this.writer = h("form", { class: "reply", onsubmit: (e) => { e.preventDefault(); this.send(); } },
        this.answer,
        h("div", { class: "reply-actions" },
          h("label", { class: "button secondary photo-button" }, this.file, T.photo),
          h("button", { type: "submit", class: "send-answer", text: T.send })));
      this.el = h("article", { class: "ticket-detail" },
        h("div", { class: "detail-main" },
          h("header", {}, this.status, this.site),
          this.question, this.proposal, this.actions, this.notes, this.messages, this.writer),
        h("aside", { class: "similar" }, h("h3", { text: T.similarTitle }), this.similar));
    }

    async refresh() {
      let t;
      try {
        t = await api(this.base, { headers: auth });
      } catch (err) {
        failed(err, this.notes);
        this.stop();
        return;
      }
      this.question.textContent = t.text;
      this.site.textContent = [t.site && t.site.name, t.site && t.site.region, t.site && t.site.industry,
        cd.time(t.created_at)].filter(Boolean).join(" · ");
      this.status.textContent = statusLabel(t);
      this.status.className = `status ${t.status}`;
      const open = t.status === "open" || t.status === "assigned";
      put(this.actions,
        open && !t.claimed ? h("button", { type: "button", class: "claim", text: T.claim, onclick: () => this.act("claim") }) : null,
        open ? h("button", { type: "button", class: "secondary decline", text: T.decline, onclick: () => this.act("decline") }) : null);
      this.showProposal(t.proposed_case, open);
      this.writer.hidden = !t.held_by_you || t.status === "closed";
      const thread = t.messages.filter((m, i) => !(i === 0 && m.author === "worker" && m.text === t.text && !m.photo_url));
      const signature = thread.map((m) => m.id).join(",");
      if (signature !== this.signature) {
        this.signature = signature;
        put(this.messages, ...thread.map((m) => h("div", { class: `msg ${m.author}` },
          h("div", { class: "meta" }, `${m.author === "expert" ? T.you : m.author === "worker" ? T.worker : T.system} · ${cd.time(m.created_at)}`),
          m.text ? h("p", { class: "text", text: m.text }) : null,
          m.photo_url ? cd.photo(m.photo_url, auth) : null)));
      }
    }

    /** The case the system found plausible, with the one-tap answer while it waits. */
    showProposal(p, open) {
      this.proposal.hidden = !p;
      if (!p) return;
      const waiting = p.state === "pending" && open;
      put(this.proposal,
        h("p", { class: "label", text: waiting ? T.proposalTitle : T.proposalState[p.state] || "" }),
        h("div", { class: "case unconfirmed" }, h("h3", { text: p.title }), cd.longText(p.answer, !waiting)),
        waiting ? h("div", { class: "actions" },
          h("button", { type: "button", class: "confirm-right", text: T.proposalRight, onclick: () => this.settle(true) }),
          h("button", { type: "button", class: "secondary confirm-wrong", text: T.proposalWrong, onclick: () => this.settle(false) }))
          : null);
    }

    async settle(correct) {
      put(this.notes);
      try {
        await api(`${this.base}/confirm`, { method: "POST", headers: auth, body: { correct } });
      } catch (err) {
        failed(err, this.notes);
      }
      this.refresh();
      loadQueue();
    }

    async loadSimilar() {
      let cases;
      try {
        cases = await api(`${this.base}/similar`, { headers: auth });
      } catch (err) {
        put(this.similar);
        failed(err, this.similar);
        return;
      }
      put(this.similar, ...(cases.length ? cases.map((c) => h("div", { class: "case" },
        h("h4", { text: c.title }),
        cd.longText(c.answer, true),
        h("div", { class: "actions" },
          h("span", { class: "muted", text: `${T.probability} ${Math.round(c.score * 100)}%` }),
          h("button", { type: "button", class: "link", text: T.useDraft, onclick: () => { this.answer.value = c.answer; this.answer.focus(); } }))))
        : [h("p", { class: "muted", text: T.similarEmpty })]));
    }

    async act(what) {
      put(this.notes);
      try {
        await api(`${this.base}/${what}`, { method: "POST", headers: auth });
      } catch (err) {
        failed(err, this.notes);
      }
      if (what === "decline") {
        put(this.notes, h("p", { class: "note", text: T.declined }));
        this.stop();
        this.writer.hidden = true;
        put(this.actions);
      } else this.refresh();
      loadQueue();
    }

    async post(path, init) {
      put(this.notes);
      try {
        await api(`${this.base}/${path}`, { method: "POST", headers: auth, ...init });
        this.answer.value = "";
      } catch (err) {
        failed(err, this.notes);
      }
      this.refresh();
      loadQueue();
    }

    send() {
      const text = this.answer.value.trim();
      if (text) this.post("answer", { body: { text } });
    }

    sendPhoto() {
      const file = this.file.files[0];
      if (!file) return;
      const form = new FormData();
      form.append("photo", file);
      form.append("text", this.answer.value.trim());
      this.file.value = "";
      this.post("photos", { form });
    }

    start() {
      this.refresh();
      this.loadSimilar();
      if (!streaming) this.poll();
    }

    poll() {
      clearInterval(this.timer);
      this.timer = setInterval(() => this.refresh(), DETAIL_MS);
    }

    stop() {
      this.stopped = true;  // declined, closed or out of reach: the stream's notices leave it be
      clearInterval(this.timer);
    }
  }

  function open(id) {
    if (current) current.stop();
    current = new TicketDetail(id);
    put(detailBox, current.el);
    current.start();
    main.classList.add("showing-detail");
    cd.show(document.getElementById("detail-pane"));
    queueList.querySelectorAll(".queue-item").forEach((b) => b.classList.toggle("active", b.dataset.ticket === id));
    window.scrollTo(0, 0);
  }

  function start() {
    if (!token) {
      loggedOut(null);
      return;
    }
    cd.show(document.getElementById("queue-pane"));
    cd.show(document.getElementById("detail-pane"));
    put(detailBox, h("p", { class: "muted pick", text: T.pick }));
    cd.show(document.getElementById("logout"));
    document.getElementById("logout").addEventListener("click", () => { loggedOut(null); location.reload(); });
    document.getElementById("refresh").addEventListener("click", () => { loadQueue(); loadNeeds(); });
    document.getElementById("back").addEventListener("click", () => {
      main.classList.remove("showing-detail");
      loadQueue();
    });
    loadNeeds();
    setInterval(loadNeeds, QUEUE_MS);
    followQueue();  // its first notice loads the queue
    if (linkedTicket) open(linkedTicket);
  }

  start();
})();
