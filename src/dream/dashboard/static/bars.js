/* Grouped horizontal bars drawn by ECharts for the panels that set values side by side (two
   cohorts' shares, the executables' sizes per OS): one row per category, one bar per series in
   the Okabe–Ito palette with a legend, and a whisker for each value's 95 % interval where the
   answer gives one. Nothing to show: the chart is disposed and the reason is written instead. */
"use strict";

window.DreamBars = (function () {
  const { PALETTE } = window.DreamPlots;
  const GAP = 0.3;  // of each row's band left between rows; the bars of a row share the rest

  function clear(div, message) {
    const chart = window.echarts.getInstanceByDom(div);
    if (chart) chart.dispose();
    div.style.height = "";  // the message's own height, not the last chart's
    window.DreamPlots.clear(div, message);
  }

  /* The whiskers of series `s` (index i of n): a line from lo to hi across its bar's centre. */
  function whiskers(s, i, n) {
    const data = [];
    s.intervals.forEach((iv, row) => { if (iv) data.push([iv[0], iv[1], row]); });
    return {
      name: s.name, type: "custom", silent: true, z: 3, encode: { x: [0, 1], y: 2 }, data,
      renderItem(params, api) {
        const lo = api.coord([api.value(0), api.value(2)]);
        const hi = api.coord([api.value(1), api.value(2)]);
        const slot = api.size([0, 1])[1] * (1 - GAP) / n;
        const y = lo[1] + (i - (n - 1) / 2) * slot;
        const cap = Math.max(3, slot / 4);
        const line = (x1, y1, x2, y2) => ({ type: "line", shape: { x1, y1, x2, y2 },
          style: { stroke: "#1d2330", lineWidth: 1.5 } });
        return { type: "group", children: [line(lo[0], y, hi[0], y),
          line(lo[0], y - cap, lo[0], y + cap), line(hi[0], y - cap, hi[0], y + cap)] };
      },
    };
  }

  /* rows: the categories, top to bottom; series: [{name, values: [number|null], intervals?:
     [[lo, hi]|null]}]; opts: title, xTitle (with its unit), yTitle (what a row is), max, digits (of the tooltip's
     values), empty (the message when there are no rows). */
  function groupedBars(div, rows, series, opts) {
    if (!rows.length) return clear(div, opts.empty);
    let chart = window.echarts.getInstanceByDom(div);
    if (!chart) {
      div.replaceChildren();
      div.classList.remove("empty");
      chart = window.echarts.init(div, null, { renderer: "canvas" });
    }
    const n = series.length;
    div.style.height = `${Math.max(220, 110 + rows.length * n * 22)}px`;
    chart.resize();
    chart.setOption({
      animation: false, color: PALETTE, textStyle: { fontSize: 12 },
      title: { text: opts.title, left: 0, top: 0, textStyle: { fontSize: 13, fontWeight: "normal" } },
      legend: { top: 22, type: "scroll", data: series.map((s) => s.name) },
      grid: { left: 8, right: 28, top: 56, bottom: 40, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, renderMode: "richText",
        valueFormatter: (v) => (typeof v === "number" ? v.toFixed(opts.digits ?? 1) : "–") },
      yAxis: { type: "category", data: rows, inverse: true, name: opts.yTitle, nameLocation: "end",
        nameTextStyle: { align: "left", fontSize: 12 }, axisLabel: { fontSize: 12, width: 120, overflow: "truncate" } },
      xAxis: { type: "value", name: opts.xTitle, nameLocation: "middle", nameGap: 26, min: 0,
        max: opts.max, axisLabel: { fontSize: 12, hideOverlap: true } },
      series: [
        ...series.map((s) => ({ name: s.name, type: "bar", barGap: "0%",
          barCategoryGap: `${GAP * 100}%`, data: s.values })),
        ...series.map((s, i) => (s.intervals ? whiskers(s, i, n) : null)).filter(Boolean),
      ],
    }, { notMerge: true });
    div.dataset.points = String(rows.length * n);
  }

  window.addEventListener("resize", () => {
    for (const div of document.querySelectorAll(".bars")) {
      const chart = window.echarts.getInstanceByDom(div);
      if (chart) chart.resize();
    }
  });

  return { groupedBars, clear };
})();
