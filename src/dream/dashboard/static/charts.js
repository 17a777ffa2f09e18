/* The Dream dashboard's SVG bar chart (the top applications) and how its figures read in their
   units. No dependencies. Each drawn element carries data-* attributes with the numbers it shows
   (the api's, unscaled). Time series are drawn by ECharts (plots.js). */
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function text(parent, x, y, content, attrs) {
  const t = el("text", Object.assign({ x, y }, attrs || {}), parent);
  t.textContent = content;
  return t;
}

function clear(svg) { while (svg.firstChild) svg.removeChild(svg.firstChild); }

function formatNumber(v) {
  if (v === null || v === undefined) return "–";
  if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (Math.abs(v) >= 1e4) return (v / 1e3).toFixed(1) + "k";
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

/* A metric's unit: hours with one decimal, counts whole, memory (the api's KiB: scale to MiB)
   whole MiB; anything else as formatNumber reads. */
const UNITS = {
  hours: { digits: 1, suffix: " h", scale: 1 },
  count: { digits: 0, suffix: "", scale: 1 },
  kib: { digits: 0, suffix: " MiB", scale: 1 / 1024 },
};

function formatValue(v, unit, withSuffix) {
  const u = UNITS[unit];
  if (!u || v === null || v === undefined) return formatNumber(v);
  const s = Number(v * u.scale).toLocaleString("en-US",
    { minimumFractionDigits: u.digits, maximumFractionDigits: u.digits });
  return withSuffix ? s + u.suffix : s;
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/* The chart's note below it (created once): an empty state in words, as HTML so it wraps and
   keeps its size on a narrow screen; message: text or a node (DreamEmpty's, copied). */
function note(svg, message) {
  let p = svg.nextElementSibling;
  if (!p || !p.classList.contains("chart-empty")) {
    p = document.createElement("p");
    p.className = "chart-note chart-empty";
    svg.after(p);
  }
  p.replaceChildren();
  p.classList.toggle("empty", Boolean(message));
  if (message instanceof Node) p.append(message.cloneNode(true)); else p.textContent = message || "";
}

function empty(svg, width, message) {
  svg.setAttribute("viewBox", `0 0 ${width} 0`);
  svg.dataset.points = "0";
  note(svg, message || "no data for these filters");
}

/* items: [{label, value}] drawn top to bottom; opts: unit (see UNITS), title (what the bars
   measure, with the unit: written under them), empty (what to say instead). Drawn at the width
   the chart has (one unit a pixel), so its text keeps its size on a phone. */
function barChart(svg, items, opts) {
  opts = opts || {};
  const width = Math.max(280, Math.round(svg.clientWidth || 640)), rowH = 22, right = 64, top = 6;
  const left = Math.min(150, Math.round(width * 0.32)), chars = Math.floor((left - 8) / 7.5);
  clear(svg);
  note(svg, "");
  if (!items.length) return empty(svg, width, opts.empty);
  const height = top + rowH * items.length + (opts.title ? 26 : 6);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  if (opts.title) {
    text(svg, left + (width - left - right) / 2, height - 6, opts.title, { "text-anchor": "middle", class: "x-title" });
  }
  svg.dataset.points = String(items.length);
  const max = niceMax(Math.max(...items.map((i) => i.value || 0)));
  const scale = (width - left - right) / max;
  items.forEach((item, i) => {
    const y = top + i * rowH;
    const g = el("g", { class: "bar", "data-label": item.label, "data-value": String(item.value) }, svg);
    el("title", {}, g).textContent = `${item.label}: ${formatValue(item.value, opts.unit, true)}`;
    const label = item.label.length > chars ? item.label.slice(0, chars - 1) + "…" : item.label;
    text(g, left - 6, y + rowH / 2 + 4, label, { "text-anchor": "end" });
    el("rect", { x: left, y: y + 3, height: rowH - 6, width: Math.max(1, (item.value || 0) * scale), rx: 2 }, g);
    text(g, left + Math.max(1, (item.value || 0) * scale) + 4, y + rowH / 2 + 4,
      formatValue(item.value, opts.unit, true), { class: "value" });
  });
}

window.DreamCharts = { barChart, formatNumber, formatValue, UNITS };
