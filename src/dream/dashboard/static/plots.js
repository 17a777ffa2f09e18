/* Dashboard charts drawn by Apache ECharts (vendored: /dashboard/vendor/echarts/echarts.min.js),
   the pattern each panel moves to: axis titles with units, whole-number ticks for counts, dates
   in UTC that do not overlap, a colour-blind-safe palette (Okabe–Ito), a legend, and a chart
   cleared, not left stale, when there is nothing (or no answer) to show. */
"use strict";

window.DreamPlots = (function () {
  // Okabe & Ito (2008): told apart with any of the common colour-vision deficiencies.
  const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
  const charts = new Map();  // element id -> ECharts instance

  function instance(div) {
    let chart = charts.get(div.id);
    if (!chart) {
      div.replaceChildren();
      div.classList.remove("empty");
      chart = window.echarts.init(div, null, { renderer: "canvas" });
      charts.set(div.id, chart);
    }
    return chart;
  }

  /* v up to a multiple of half its power of ten (16.1 → 20, 230 → 250): ticks stay round. */
  function roundUp(v) {
    const step = Math.max(1, 10 ** Math.floor(Math.log10(v)) / 2);
    return Math.ceil(v / step) * step;
  }

  /* No chart: the message in its place (what was asked, or why nothing is drawn). */
  function clear(div, message) {
    const chart = charts.get(div.id);
    if (chart) { chart.dispose(); charts.delete(div.id); }
    div.replaceChildren();
    div.classList.add("empty");
    div.textContent = message || "";
    div.dataset.points = "0";
  }

  /* series: [{name, points: [{t: Date, value}]}]; opts: xTitle, yTitle (with its unit), counts
     (whole-number ticks), line ({value, label}: a dashed horizontal mark, e.g. a seat count). */
  function timeChart(div, series, opts) {
    const all = series.flatMap((s) => s.points);
    if (!all.length) return clear(div, opts.empty || "no data for these filters");
    const chart = instance(div);
    const dataMax = Math.max(...all.map((p) => p.value || 0));
    // A marked line above the data still shows, a little below a round top; else ECharts' own.
    const max = opts.line && opts.line.value >= dataMax ? roundUp(opts.line.value * 1.15) : undefined;
    chart.setOption({
      useUTC: true, animation: false, color: PALETTE,
      textStyle: { fontSize: 12 },
      grid: { left: 56, right: 24, top: 40, bottom: 56 },
      legend: { top: 0, type: "scroll" },
      tooltip: { trigger: "axis", renderMode: "richText" },  // canvas text: no inline HTML styles
      xAxis: {
        type: "time", name: opts.xTitle, nameLocation: "middle", nameGap: 32,
        axisLabel: { hideOverlap: true, fontSize: 12, formatter: {  // day boundaries named in full
          year: "{yyyy}", month: "{MMM} {yyyy}", day: "{d} {MMM}", hour: "{HH}:{mm}", minute: "{HH}:{mm}",
        } },
      },
      yAxis: {
        type: "value", name: opts.yTitle, nameLocation: "middle", nameGap: 40, min: 0,
        minInterval: opts.counts ? 1 : 0, max,
        axisLabel: { fontSize: 12 },
      },
      series: series.map((s, i) => ({
        name: s.name, type: "line", showSymbol: s.points.length <= 60, symbolSize: 5,
        data: s.points.map((p) => [p.t.getTime(), p.value]),
        markLine: i === 0 && opts.line ? {
          symbol: "none", silent: true, lineStyle: { type: "dashed", color: "#D55E00" },
          label: { formatter: opts.line.label, position: "insideEndTop" },
          data: [{ yAxis: opts.line.value }],
        } : undefined,
      })),
    }, { notMerge: true });
    div.dataset.points = String(all.length);
  }

  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));

  /* The figures a chart draws, per series name: [[epoch ms, value], …] (what tests compare). */
  function figures(id) {
    const chart = charts.get(id);
    if (!chart) return null;
    return Object.fromEntries(chart.getOption().series.map((s) => [s.name, s.data]));
  }

  return { PALETTE, timeChart, clear, figures, instance };
})();
