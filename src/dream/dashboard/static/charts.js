/* How the dashboard's figures read in their units (hours, counts, the api's KiB as MiB), for
   every panel's labels, tables and tooltips. No dependencies; charts are drawn by ECharts
   (plots.js and each panel's file). */
"use strict";

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

window.DreamCharts = { formatNumber, formatValue, UNITS };
