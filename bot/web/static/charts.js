/* Small bar charts drawn as inline SVG (no chart library: the pages must work offline).
   Labels are set with textContent, like everything else on these pages. */
"use strict";

const charts = (() => {
  const NS = "http://www.w3.org/2000/svg";

  function node(tag, attrs, text) {
    const el = document.createElementNS(NS, tag);
    for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function short(label, size) {
    const text = String(label);
    return text.length > size ? `${text.slice(0, size - 1)}…` : text;
  }

  function figure(title, svg, empty) {
    const fig = document.createElement("figure");
    fig.className = "chart";
    const caption = document.createElement("figcaption");
    caption.textContent = title;
    fig.append(caption);
    if (svg) fig.append(svg);
    else {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = empty;
      fig.append(p);
    }
    return fig;
  }

  /** Horizontal bars, one row per [label, value]; good for named groups. ``width`` is the
      drawing's width in CSS pixels at which its text has its natural size. */
  function bars(title, rows, { format = String, empty = "", width = 600 } = {}) {
    rows = rows.filter(([, v]) => v !== null && v !== undefined);
    if (!rows.length) return figure(title, null, empty);
    const rowH = 30, labelW = Math.round(width * 0.3), barW = width - labelW - 56;
    const max = Math.max(...rows.map(([, v]) => v), 1e-9);
    const svg = node("svg", { viewBox: `0 0 ${width} ${rows.length * rowH + 6}`, role: "img", "aria-label": title });
    rows.forEach(([label, value], i) => {
      const y = i * rowH + 4;
      const w = Math.max(2, (value / max) * barW);
      svg.append(node("text", { x: labelW - 8, y: y + 17, "text-anchor": "end", class: "chart-label" }, short(label, Math.floor(labelW / 15))));
      svg.append(node("rect", { x: labelW, y, width: w, height: rowH - 10, rx: 3, class: "chart-bar" }));
      svg.append(node("text", { x: labelW + w + 6, y: y + 17, class: "chart-value" }, format(value)));
    });
    return figure(title, svg);
  }

  /** Vertical columns in order, one per [label, value]; good for weeks. A label may hold a
      line break ("12月1日\n–12月7日"): drawn as lines under the column. When the columns are too
      narrow for their labels only every n-th is labelled (each column keeps a tooltip). */
  function columns(title, rows, { format = String, empty = "", width = 600 } = {}) {
    rows = rows.filter(([, v]) => v !== null && v !== undefined);
    if (!rows.length) return figure(title, null, empty);
    const lines = rows.map(([label]) => String(label).split("\n").map((line) => short(line, 9)));
    const most = Math.max(...lines.map((l) => l.length));
    const height = 200 + 16 * most, bottom = 14 + 16 * most, top = 20;
    // about 13 px a Chinese character, 7.5 px a digit or dash
    const textWidth = (line) => [...line].reduce((w, c) => w + (/[\x00-\xff–]/.test(c) ? 7.5 : 13), 0);
    const widest = Math.max(...lines.flat().map(textWidth));
    const slot = width / rows.length, barW = Math.min(60, slot * 0.7);
    const max = Math.max(...rows.map(([, v]) => v), 1e-9);
    const svg = node("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
    svg.append(node("line", { x1: 0, x2: width, y1: height - bottom, y2: height - bottom, class: "chart-axis" }));
    const every = Math.max(1, Math.ceil((widest + 6) / slot));
    rows.forEach(([label, value], i) => {
      const h = Math.max(2, (value / max) * (height - bottom - top));
      const x = i * slot + (slot - barW) / 2;
      const bar = node("rect", { x, y: height - bottom - h, width: barW, height: h, rx: 3, class: "chart-bar" });
      bar.append(node("title", {}, `${String(label).replace("\n", "")}: ${format(value)}`));
      svg.append(bar);
      svg.append(node("text", { x: x + barW / 2, y: height - bottom - h - 5, "text-anchor": "middle", class: "chart-value" }, format(value)));
      if (i % every) return;
      const text = node("text", { x: x + barW / 2, y: height - bottom + 18, "text-anchor": "middle", class: "chart-label" });
      lines[i].forEach((line, n) => text.append(node("tspan", { x: x + barW / 2, dy: n ? 16 : 0 }, line)));
      svg.append(text);
    });
    return figure(title, svg);
  }

  return { bars, columns };
})();
