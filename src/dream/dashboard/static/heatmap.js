/* The dashboard's "week × hour" panel: hours of use by day of the week and hour of the day (UTC:
   the api names no other zone), for the filters and the chosen product (every application if
   none), from /v1/analytics/usage?bucket=hour. Drawn by ECharts (plots.js). */
"use strict";

window.DreamHeatmap = (function () {
  const { clear, instance } = window.DreamPlots;
  const { api, cliCommand } = window.DreamApi;
  const $ = (id) => document.getElementById(id);
  const ID = "heatmap-chart";
  const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  const HOURS = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, "0"));
  // Sequential and colour-blind safe (viridis' ends and middle), light for little use.
  const SCALE = ["#fde725", "#5ec962", "#21918c", "#3b528b", "#440154"];

  /* Hours of use per [hour of day, day of week (Monday 0)], summed over the hourly buckets.
     Hours are additive (each is time some session was in use within the bucket), so the sum of
     the api's hourly buckets falling on a weekday and hour is exactly that cell's hours. */
  function cells(points) {
    const sums = new Map();
    for (const p of points) {
      const t = new Date(p.bucket);
      const key = `${t.getUTCHours()},${(t.getUTCDay() + 6) % 7}`;
      sums.set(key, (sums.get(key) || 0) + p.hours);
    }
    return [...sums].map(([key, hours]) => [...key.split(",").map(Number), hours]);
  }

  function draw(data, title) {
    const div = $(ID);
    const chart = instance(div);
    chart.setOption({
      animation: false, textStyle: { fontSize: 12 },
      title: { text: title, textStyle: { fontSize: 13 } },
      grid: { left: 48, right: 16, top: 40, bottom: 96 },
      tooltip: { trigger: "item", renderMode: "richText",
        formatter: (c) => `${DAYS[c.value[1]]} ${HOURS[c.value[0]]}:00 UTC: ${c.value[2].toFixed(1)} h` },
      xAxis: { type: "category", data: HOURS, name: "hour of day (UTC)", nameLocation: "middle",
        nameGap: 26, axisLabel: { fontSize: 12, hideOverlap: true }, splitArea: { show: true } },
      yAxis: { type: "category", data: DAYS, inverse: true, name: "day of week",
        nameLocation: "middle", nameGap: 36, axisLabel: { fontSize: 12 }, splitArea: { show: true } },
      visualMap: { type: "continuous", min: 0, max: Math.max(...data.map((c) => c[2])), calculable: false,
        orient: "horizontal", left: "center", bottom: 4, itemHeight: 160, precision: 1,
        text: ["more hours", "hours of use (h): 0"], inRange: { color: SCALE } },
      series: [{ name: "hours of use", type: "heatmap", data, emphasis: { itemStyle: { borderColor: "#000" } } }],
    }, { notMerge: true });
    div.dataset.points = String(data.length);
  }

  /* ctx: filters, app (the chosen product, or none: every application), appName (its display name), current(),
     links(panel, path, params, cli, exportQuery). */
  async function render(ctx) {
    const params = Object.assign({}, ctx.filters, { bucket: "hour" });
    if (ctx.app) params.app = ctx.app;
    const body = await api("/v1/analytics/usage", params);
    if (!ctx.current()) return;
    const data = cells((body.series[0] || { points: [] }).points);
    const what = ctx.app ? ctx.appName || ctx.app : "any application";
    if (!data.some((c) => c[2] > 0)) {
      clear($(ID), `no hours of use of ${what} under these filters`
        + (body.coverage ? ` (${body.coverage.hosts} host${body.coverage.hosts === 1 ? "" : "s"} reported)` : ""));
    } else {
      draw(data, `Hours of use of ${what} by day and hour (UTC)`);
    }
    ctx.links("panel-heatmap", "/v1/analytics/usage", params, cliCommand("usage", params), "usage");
  }

  return { render, clear: (message) => clear($(ID), message) };
})();
