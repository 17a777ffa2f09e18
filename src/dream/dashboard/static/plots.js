/* Dashboard charts drawn by Apache ECharts (vendored: /dashboard/vendor/echarts/echarts.min.js),
   the pattern each panel moves to: axis titles with units, whole-number ticks for counts, dates
   in UTC that do not overlap, a colour-blind-safe palette (Okabe–Ito), a legend, and a chart
   cleared, not left stale, when there is nothing (or no answer) to show. Any panel's own option
   takes DreamPlots.PALETTE (its `color`) and DreamPlots.axis(kind, title, opts) (each axis). */
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

  /* The round step (1, 2 or 5 times a power of ten) at or above v. */
  function niceStep(v) {
    const p = 10 ** Math.floor(Math.log10(v));
    return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= v - 1e-12 * p);
  }

  /* No chart: the message (text or a node) in its place: what was asked, or why nothing is drawn. */
  function clear(div, message) {
    const chart = charts.get(div.id);
    if (chart) { chart.dispose(); charts.delete(div.id); }
    multiples.delete(div.id);
    div.replaceChildren();
    div.classList.add("empty");
    div.style.height = "";
    if (message instanceof Node) div.append(message.cloneNode(true)); else div.textContent = message || "";
    div.dataset.points = "0";
  }

  /* An axis as every chart here draws it (for any panel's option): `title` along it, with its
     unit ("hours of use", "users at once", "day (UTC)"); kind "time" (UTC dates named in full at
     day boundaries, labels that would overlap left out), "value" (from 0; opts.counts: whole-number
     ticks) or "category"; opts: gridIndex, max, min, nameGap, … merged last. */
  function axis(kind, title, opts) {
    const o = Object.assign({}, opts);
    const counts = o.counts; delete o.counts;
    const base = { type: kind, name: title, nameLocation: "middle", nameGap: kind === "value" ? 40 : 30,
      nameTextStyle: { color: "#374151", fontSize: 12 }, axisLabel: { fontSize: 12, hideOverlap: true } };
    if (kind === "time") {
      base.axisLabel.formatter = { year: "{yyyy}", month: "{MMM} {yyyy}", day: "{d} {MMM}",
        hour: "{HH}:{mm}", minute: "{HH}:{mm}" };
    }
    if (kind === "value") Object.assign(base, { min: 0, minInterval: counts ? 1 : 0 });
    return Object.assign(base, o);
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
      xAxis: axis("time", opts.xTitle, { nameGap: 32 }),
      yAxis: axis("value", opts.yTitle, { counts: opts.counts, max }),
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

  const CELL = 150;  // px per small multiple: its name, the plot, dates and the axis title
  const MULTIPLES_2 = 560;  // px from which small multiples sit two abreast
  const multiples = new Map();  // element id -> [series, opts, columns]: drawn again when columns change
  const columns = (div, series) => (div.clientWidth >= MULTIPLES_2 && series.length > 1 ? 2 : 1);

  /* One small chart per series, on the same time range and value scale (so they compare at a
     glance, as one chart of tangled lines does not), each named at its top right; two abreast on
     a wide panel. series and opts as timeChart's; points marked `filled` (a bucket without data
     drawn as 0) are not counted in data-points. opts.categories: labels (calendar buckets) on a
     category axis in their order instead of time, each point's t one of them. */
  function smallMultiples(div, series, opts) {
    const all = series.flatMap((s) => s.points);
    multiples.delete(div.id);
    if (!all.length) return clear(div, opts.empty || "no data for these filters");
    const cols = columns(div, series);
    const high = series.length === 1 ? 2 * CELL : CELL;  // one series alone: a chart of its own
    div.style.height = `${Math.ceil(series.length / cols) * high}px`;
    const chart = instance(div);
    chart.resize();
    multiples.set(div.id, [series, opts, cols]);
    const width = div.clientWidth / cols;
    const cell = (i) => ({ x: (i % cols) * width, y: Math.floor(i / cols) * high });
    const labels = opts.categories;
    const x = (p) => (labels ? p.t : p.t.getTime());
    const times = labels ? [] : all.map(x);
    const [t0, t1] = [Math.min(...times), Math.max(...times)];
    // One scale for all, in at most 3-4 round steps (whole ones for counts); all zero: 0..1.
    const top = Math.max(...all.map((p) => p.value || 0));
    let interval = top > 0 ? niceStep(top / 3) : 1;
    if (opts.counts) interval = Math.max(1, interval);
    const max = Math.max(interval, Math.ceil(top / interval - 1e-9) * interval);
    chart.setOption({
      useUTC: true, animation: false, color: PALETTE, textStyle: { fontSize: 12 },
      tooltip: { trigger: "axis", renderMode: "richText" },
      title: series.map((s, i) => ({ text: s.name, left: cell(i).x + width - 16, top: cell(i).y,
        textAlign: "right", textStyle: { fontSize: 12, fontWeight: "bold", color: PALETTE[i % PALETTE.length] } })),
      grid: series.map((s, i) => ({ left: cell(i).x + 56, width: width - 56 - 20, top: cell(i).y + 26,
        height: high - 82 })),
      xAxis: series.map((s, i) => (labels ? axis("category", opts.xTitle, { gridIndex: i, data: labels, nameGap: 26 })
        : axis("time", opts.xTitle, { gridIndex: i, min: t0, max: t1, nameGap: 26 }))),
      yAxis: series.map((s, i) => axis("value", opts.yTitle, { gridIndex: i, counts: opts.counts,
        nameLocation: "end", nameGap: 8,
        nameTextStyle: { color: "#374151", fontSize: 12, align: "left" },
        max, interval, axisLabel: { fontSize: 11 } })),
      series: series.map((s, i) => ({
        name: s.name, type: "line", xAxisIndex: i, yAxisIndex: i, showSymbol: s.points.length <= 48,
        symbolSize: 4, areaStyle: { opacity: 0.12 },
        data: s.points.map((p) => [x(p), p.value]),
      })),
    }, { notMerge: true });
    div.dataset.points = String(all.filter((p) => !p.filled).length);
  }

  /* Small multiples are laid out again only when their number of columns changes. */
  window.addEventListener("resize", () => {
    charts.forEach((c) => c.resize());
    for (const [id, [series, opts, cols]] of multiples) {
      const div = document.getElementById(id);
      if (columns(div, series) !== cols) smallMultiples(div, series, opts);
    }
  });

  /* The figures a chart draws, per series name: [[epoch ms or a calendar label, value], …] (what tests compare). */
  function figures(id) {
    const chart = charts.get(id);
    if (!chart) return null;
    return Object.fromEntries(chart.getOption().series.map((s) => [s.name, s.data]));
  }

  return { PALETTE, axis, timeChart, smallMultiples, clear, figures, instance };
})();
