/* Small SVG charts for the Dream dashboard: a horizontal bar chart and a time-series line chart.
   No dependencies. Each drawn element carries data-* attributes with the numbers it shows. */
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777",
  "#65a30d", "#9333ea", "#ea580c", "#475569", "#0d9488"];

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

/* A metric's unit: hours with one decimal, counts whole; anything else as formatNumber reads. */
const UNITS = {
  hours: { digits: 1, suffix: " h" },
  count: { digits: 0, suffix: "" },
};

function formatValue(v, unit, withSuffix) {
  const u = UNITS[unit];
  if (!u || v === null || v === undefined) return formatNumber(v);
  const s = Number(v).toLocaleString("en-US",
    { minimumFractionDigits: u.digits, maximumFractionDigits: u.digits });
  return withSuffix ? s + u.suffix : s;
}

/* The axis's top for values up to v: a round number, one the unit writes exactly. */
function axisMax(v, unit) {
  const top = niceMax(v);
  if (!UNITS[unit]) return top;
  const step = Math.pow(10, -UNITS[unit].digits);
  return Math.max(step, Math.ceil(top / step - 1e-9) * step);
}

/* How many gridlines split [0, vmax]: steps the unit writes exactly (whole, or one decimal). */
function tickCount(vmax, unit) {
  if (!UNITS[unit]) return 4;
  const scaled = Math.round(vmax * Math.pow(10, UNITS[unit].digits));
  return [4, 5, 2, 1].find((n) => scaled % n === 0) || 1;
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function empty(svg, width, message) {
  svg.setAttribute("viewBox", `0 0 ${width} 60`);
  svg.dataset.points = "0";
  text(svg, width / 2, 34, message || "no data for these filters", { "text-anchor": "middle", class: "empty" });
}

/* items: [{label, value}] drawn top to bottom. */
function barChart(svg, items, opts) {
  opts = opts || {};
  const width = 640, rowH = 22, left = 150, right = 60, top = 6;
  clear(svg);
  if (!items.length) return empty(svg, width, opts.empty);
  const height = top + rowH * items.length + 6;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.dataset.points = String(items.length);
  const max = niceMax(Math.max(...items.map((i) => i.value || 0)));
  const scale = (width - left - right) / max;
  items.forEach((item, i) => {
    const y = top + i * rowH;
    const g = el("g", { class: "bar", "data-label": item.label, "data-value": String(item.value) }, svg);
    el("title", {}, g).textContent = `${item.label}: ${formatValue(item.value, opts.unit, true)}`;
    const label = item.label.length > 22 ? item.label.slice(0, 21) + "…" : item.label;
    text(g, left - 6, y + rowH / 2 + 4, label, { "text-anchor": "end" });
    el("rect", { x: left, y: y + 3, height: rowH - 6, width: Math.max(1, (item.value || 0) * scale), rx: 2 }, g);
    text(g, left + Math.max(1, (item.value || 0) * scale) + 4, y + rowH / 2 + 4,
      formatValue(item.value, opts.unit, true), { class: "value" });
  });
}

function timeLabel(date, span) {
  const iso = date.toISOString();
  if (span <= 2 * 86400e3) return iso.slice(5, 10) + " " + iso.slice(11, 16);
  return iso.slice(0, 10);
}

/* series: [{name, points: [{t: Date, value}]}]; opts: unit (see UNITS), yTitle (the axis's
   unit, written along it), seats (a horizontal line at that value, labelled). */
function lineChart(svg, series, opts) {
  opts = opts || {};
  const width = 640, height = 280, left = 56, right = 12, top = 10, bottom = 28;
  clear(svg);
  const all = series.flatMap((s) => s.points);
  if (!all.length) return empty(svg, width, opts.empty);
  const legendRows = Math.ceil(series.length / 4);
  const totalH = height + legendRows * 16 + 4;
  svg.setAttribute("viewBox", `0 0 ${width} ${totalH}`);
  svg.dataset.points = String(all.filter((p) => !p.filled).length);
  svg.dataset.series = String(series.length);
  const times = all.map((p) => p.t.getTime());
  let t0 = Math.min(...times), t1 = Math.max(...times);
  if (t0 === t1) { t0 -= 3600e3; t1 += 3600e3; }
  const vmax = axisMax(Math.max(opts.seats || 0, ...all.map((p) => p.value || 0)), opts.unit);
  const ticks = tickCount(vmax, opts.unit);
  const x = (t) => left + (t - t0) / (t1 - t0) * (width - left - right);
  const y = (v) => top + (1 - (v || 0) / vmax) * (height - top - bottom);
  const grid = el("g", { class: "grid" }, svg);
  const axis = el("g", { class: "axis" }, svg);
  for (let i = 0; i <= ticks; i++) {
    const v = vmax * i / ticks;
    el("line", { x1: left, x2: width - right, y1: y(v), y2: y(v) }, grid);
    text(axis, left - 4, y(v) + 4, formatValue(v, opts.unit), { "text-anchor": "end" });
  }
  el("line", { x1: left, x2: width - right, y1: y(0), y2: y(0) }, axis);
  if (opts.yTitle) {
    const my = (top + height - bottom) / 2;
    text(axis, 10, my, opts.yTitle, { "text-anchor": "middle", transform: `rotate(-90 10 ${my})`, class: "y-title" });
  }
  const timeTicks = 6;
  for (let i = 0; i <= timeTicks; i++) {
    const t = t0 + (t1 - t0) * i / timeTicks;
    text(axis, x(t), height - 8, timeLabel(new Date(t), t1 - t0),
      { "text-anchor": i === 0 ? "start" : i === timeTicks ? "end" : "middle" });
  }
  if (opts.seats > 0) {
    const g = el("g", { class: "seats", "data-value": String(opts.seats) }, svg);
    el("line", { x1: left, x2: width - right, y1: y(opts.seats), y2: y(opts.seats) }, g);
    text(g, width - right - 2, y(opts.seats) - 4, formatValue(opts.seats, "count") + " seats", { "text-anchor": "end" });
  }
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const pts = s.points.slice().sort((a, b) => a.t - b.t);
    const g = el("g", { class: "line", "data-group": s.name }, svg);
    const d = pts.map((p, j) => `${j ? "L" : "M"}${x(p.t.getTime()).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ");
    el("path", { d, class: "series", stroke: color }, g);
    for (const p of pts.filter((q) => !q.filled)) {
      const c = el("circle", { cx: x(p.t.getTime()), cy: y(p.value), r: pts.length > 60 ? 1.5 : 3, fill: color,
        "data-bucket": p.t.toISOString(), "data-value": String(p.value) }, g);
      el("title", {}, c).textContent = `${s.name} · ${p.t.toISOString().slice(0, 16).replace("T", " ")} UTC:`
        + ` ${formatValue(p.value, opts.unit, true)}`;
    }
    const lx = left + (i % 4) * 145, ly = height + 6 + Math.floor(i / 4) * 16;
    el("rect", { x: lx, y: ly, width: 10, height: 10, fill: color }, svg);
    text(svg, lx + 14, ly + 9, s.name.length > 20 ? s.name.slice(0, 19) + "…" : s.name);
  });
}

window.DreamCharts = { barChart, lineChart, formatNumber, formatValue };
