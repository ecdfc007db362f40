/* Helpers shared by the craftdesk pages.
   Data is only ever put into the page as text (textContent / text nodes), never parsed as HTML,
   so nothing a worker, an expert or an admin typed can run as script. */
"use strict";

const cd = (() => {
  const data = JSON.parse(document.getElementById("page-data").textContent);
  const T = data.texts;

  /** Build an element: h("p", {class: "x", onclick: f}, "text", child). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  /** Replace an element's children; null, undefined and false are left out (not "null"). */
  function put(el, ...children) {
    el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false)
      .map((c) => (c instanceof Node ? c : document.createTextNode(String(c)))));
    return el;
  }

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
      this.detail = detail;
    }
  }

  /** A random id per browser, sent as X-Client-Id: the rate limits then count each phone on its
      own, also when a whole shop floor shares one factory address. */
  function clientId() {
    const KEY = "craftdesk.client";
    let id = null;
    try {
      id = localStorage.getItem(KEY);
      if (!/^[A-Za-z0-9_-]{8,64}$/.test(id || "")) {
        const bytes = crypto.getRandomValues(new Uint8Array(16));
        id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
        localStorage.setItem(KEY, id);
      }
    } catch (err) {
      return null;  // storage blocked: the address alone counts
    }
    return id;
  }
  const CLIENT_ID = clientId();

  /** A JSON API call; throws ApiError with the HTTP status and the API's detail. */
  async function api(path, { method = "GET", body, form, headers = {} } = {}) {
    const init = { method, headers: { ...headers } };
    if (CLIENT_ID) init.headers["X-Client-Id"] = CLIENT_ID;
    if (form) init.body = form;
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, String(err));
    }
    const isJson = (response.headers.get("content-type") || "").includes("json");
    const payload = isJson && response.status !== 204 ? await response.json() : null;  // 204: no body
    if (!response.ok) throw new ApiError(response.status, (payload && payload.detail) || response.statusText);
    return payload;
  }

  /** A live-update stream (server-sent events), read with fetch: EventSource cannot send the
      token headers, and tokens must not go in URLs (they would land in access logs).
      ``onEvent(name, data)`` for each event. The server ends a stream after a while: it is
      opened again. When it breaks, it is tried again after a pause; after two failures in a
      row (or a 503: the server has too many open) ``onFallback()`` and it stops: the page polls.
      ``onRefused(status)`` for a 401/403/404. Returns ``{stop}``. */
  function follow(path, headers, { onEvent, onFallback, onRefused }) {
    let stopped = false;
    let failures = 0;
    let controller = null;
    let timer = null;
    const dispatch = (block) => {
      let name = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (!data) return false;  // a keep-alive comment
      onEvent(name, JSON.parse(data));
      return true;
    };
    async function once() {
      controller = new AbortController();
      const init = { headers: { ...headers, Accept: "text/event-stream" }, signal: controller.signal, cache: "no-store" };
      if (CLIENT_ID) init.headers["X-Client-Id"] = CLIENT_ID;
      const response = await fetch(path, init);
      if ([401, 403, 404].includes(response.status)) return { refused: response.status };
      if (response.status === 503) return { busy: true };
      if (!response.ok || !response.body) return { received: false };
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      let received = false;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return { received };
        buffer += value.replace(/\r\n?/g, "\n");
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (dispatch(block)) {
            received = true;
            failures = 0;
          }
        }
      }
    }
    async function run() {
      if (!window.ReadableStream || !window.TextDecoderStream || !window.AbortController) {
        onFallback();
        return;
      }
      while (!stopped) {
        let outcome;
        try {
          outcome = await once();
        } catch (err) {
          outcome = { received: false };  // the network, or the stream broke off
        }
        if (stopped) return;
        if (outcome.refused) {
          onRefused(outcome.refused);
          return;
        }
        if (!outcome.received) failures += 1;
        if (outcome.busy || failures >= 2) {
          onFallback();
          return;
        }
        await new Promise((resolve) => { timer = setTimeout(resolve, failures ? 3000 : 500); });
      }
    }
    run();
    return {
      stop() {
        stopped = true;
        clearTimeout(timer);
        if (controller) controller.abort();
      },
    };
  }

  /** The message a person sees for a failed call. */
  function errorText(err) {
    if (!(err instanceof ApiError)) return T.failed;
    if (err.status === 0) return T.network;
    if (err.status === 429) return T.tooMany;
    if (err.status === 403) return T.forbidden + err.detail;
    if (err.status === 404) return T.notFound;
    if (err.status === 422) return T.invalid + err.detail;
    if (err.status === 503) return T.unavailable + err.detail;
    return T.failed;
  }

  /** Fetch a file that needs an auth header; a blob: URL for <img> or a download. */
  async function blobUrl(path, headers) {
    let response;
    try {
      response = await fetch(path, { headers });
    } catch (err) {
      throw new ApiError(0, String(err));
    }
    if (!response.ok) throw new ApiError(response.status, response.statusText);
    return URL.createObjectURL(await response.blob());
  }

  async function download(path, headers, filename) {
    const url = await blobUrl(path, headers);
    const link = h("a", { href: url, download: filename });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  /** Photos of a thread, fetched once each and kept as blob: URLs. */
  const photoCache = new Map();
  function photo(path, headers) {
    const img = h("img", { class: "photo", alt: "" });
    if (!photoCache.has(path)) photoCache.set(path, blobUrl(path, headers));
    photoCache.get(path).then((url) => { img.src = url; }, () => img.remove());
    return img;
  }

  /** A long text folded to a few lines with a 展开全文 / 收起 toggle. */
  function longText(text, folded = true) {
    const p = h("p", { class: "text", text });
    if (!folded || text.length <= 120) return p;
    p.classList.add("folded");
    const toggle = h("button", { type: "button", class: "link more", text: T.more });
    toggle.addEventListener("click", () => {
      toggle.textContent = p.classList.toggle("folded") ? T.more : T.less;
    });
    return h("div", { class: "long-text" }, p, toggle);
  }

  function time(iso) {
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function show(el, visible = true) {
    el.hidden = !visible;
  }

  return { data, T, h, put, longText, api, ApiError, errorText, blobUrl, download, photo, time, show, follow };
})();
