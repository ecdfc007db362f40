/* The chat page inside WeChat, for a worker the service account identified (docs/wechat.md).
   Runs before chat.js: the worker's tickets (page data, from their openid) are merged into the
   history chat.js keeps in localStorage, so they show and open on any phone; a notification's
   ticket (?ticket=) becomes the one chat.js opens; and notifications can be stopped. Those
   tickets carry no token on a second phone: the server reads the worker's cookie instead. */
"use strict";

(() => {
  const { h, put, api, errorText } = cd;
  const STORE = "craftdesk.history";  // chat.js's history: [{key, kind, id, token, text, at, ...}]
  const CURRENT = "craftdesk.current";  // the ticket chat.js opens on load
  const KEEP = 50;
  const BY_COOKIE = "wechat";  // in place of a ticket token: the cookie identifies the worker
  const wx = cd.data.wechat;
  const wanted = cd.data.open_ticket;

  function read() {
    try {
      const list = JSON.parse(localStorage.getItem(STORE) || "[]");
      return Array.isArray(list) ? list.filter((e) => e && typeof e === "object") : [];
    } catch (err) {
      return [];
    }
  }

  /** The worker's tickets added to the history (a ticket kept here already stays as it is). */
  function merge(entries, tickets) {
    const keyOf = (e) => e.key || e.question_id || `ticket:${e.id}`;
    for (const t of tickets) {
      const key = t.question_id || `ticket:${t.ticket_id}`;
      const kept = entries.find((e) => e.id === t.ticket_id || keyOf(e) === key);
      const ticket = { kind: "ticket", id: t.ticket_id, token: BY_COOKIE, stage: t.stage };
      if (!kept) {
        entries.push({ key, question_id: t.question_id, text: t.question, at: t.created_at, site: t.site, ...ticket });
      } else if (!kept.id || !kept.token) {
        Object.assign(kept, ticket);
      }
    }
    return entries.sort((a, b) => String(b.at).localeCompare(String(a.at))).slice(0, KEEP);
  }

  let entries = read();
  try {
    if (wx) {
      entries = merge(entries, wx.tickets);
      localStorage.setItem(STORE, JSON.stringify(entries));
    }
    if (wanted && entries.some((e) => e.kind === "ticket" && e.id === wanted && e.token)) {
      localStorage.setItem(CURRENT, wanted);
    }
  } catch (err) { /* storage blocked: the page works as before */ }

  // ---- 不再接收微信通知 -------------------------------------------------------------------------
  const box = document.getElementById("wechat-notify");
  if (!wx || !box) return;
  let notify = wx.notify;

  function render(problem = null) {
    const T = wx.texts;
    put(box,
      h("span", { text: notify ? T.notifyOn : T.notifyOff }), " ",
      h("button", { type: "button", class: "link", onclick: toggle, text: notify ? T.stop : T.resume }),
      problem ? h("span", { class: "error", text: ` ${problem}` }) : null);
    box.hidden = false;
  }

  async function toggle() {
    try {
      notify = (await api("/api/my/notifications", { method: "POST", body: { notify: !notify } })).notify;
      render();
    } catch (err) {
      render(errorText(err));
    }
  }

  render();

  // ---- the subscribe button (accounts that send subscribe messages: one per consent) ------------
  // WeChat's own <wx-open-subscribe> tag, from its JS-SDK, loaded only here (inside WeChat, when
  // the account sends subscribe messages); signed by the server (/api/wechat/js-config).
  if (!wx.subscribe || typeof navigator === "undefined" || !/MicroMessenger/i.test(navigator.userAgent)) return;
  const SDK = "https://res.wx.qq.com/open/js/jweixin-1.6.0.js";

  function loadSdk() {
    return new Promise((resolve, reject) => {
      const script = h("script", { src: SDK });
      script.onload = resolve;
      script.onerror = reject;
      document.head.append(script);
    });
  }

  function subscribeButton() {
    const tag = document.createElement("wx-open-subscribe");
    tag.setAttribute("template", wx.subscribe.template);
    const inner = document.createElement("script");
    inner.type = "text/wxtag-template";  // the button WeChat renders: static text, no user text
    inner.textContent = `<button style="padding:8px 12px">${wx.texts.subscribe}</button>`;
    tag.append(inner);
    tag.addEventListener("success", async (event) => {
      let details = {};
      try {
        details = JSON.parse(event.detail.subscribeDetails || "{}");
      } catch (err) { /* an unreadable answer counts as no consent */ }
      const said = details[wx.subscribe.template];
      const accepted = (typeof said === "string" ? JSON.parse(said) : said || {}).status === "accept";
      try {
        await api("/api/my/subscription", { method: "POST", body: { accepted } });
        if (accepted) box.append(h("span", { text: ` ${wx.texts.subscribed}` }));
      } catch (err) {
        render(errorText(err));
      }
    });
    return tag;
  }

  (async () => {
    try {
      await loadSdk();
      const config = await api(`/api/wechat/js-config?url=${encodeURIComponent(location.href.split("#")[0])}`);
      window.wx.config({ debug: false, ...config, jsApiList: ["checkJsApi"], openTagList: ["wx-open-subscribe"] });
      window.wx.ready(() => box.append(subscribeButton()));
    } catch (err) { /* no button: notifications stay off for this answer */ }
  })();
})();
