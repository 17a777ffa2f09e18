/* The dashboard's "hours of use over time" panel: for one chosen product, its hours of use per
   bucket (/v1/analytics/usage?app=…) as bars, and beside them, on their own axis, the hosts
   reporting in each bucket (the same question without `app`, any process counted): zero hours
   where no host reported is missing data, not missing use. Drawn by ECharts (plots.js); calendar
   buckets (calendar.js) on a category axis, by week of term a pair of series per term. */
"use strict";

window.DreamHours = (function () {
  const { PALETTE, clear, instance } = window.DreamPlots;
  const { cliCommand } = window.DreamApi;
  const { BUCKETS, isCalendar, axisTitle, labels } = window.DreamCalendar;
  const $ = (id) => document.getElementById(id);
  const ID = "hours-chart";
  const BUCKET_WORD = Object.assign({ hour: "hourly", day: "daily", week: "weekly", month: "monthly" }, BUCKETS);
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

  function note(text) { $("hours-note").textContent = text; }

  /* A series per answer's series: `name`, or `name, <term>` when there are several (week of term). */
  function bars(series, name, field, x, extra) {
    return series.map((s) => Object.assign({ name: series.length > 1 ? `${name}, ${s.group}` : name,
      data: s.points.map((p) => [x(p), p[field]]) }, extra));
  }

  /* hours, hosts: the answers' series (one, or one per term by week of term). */
  function draw(app, hours, hosts, bucket) {
    const div = $(ID);
    const chart = instance(div);
    const calendar = isCalendar(bucket);
    const x = (p) => (calendar ? p.bucket : Date.parse(p.bucket));
    chart.setOption({
      useUTC: true, animation: false, color: hours.length > 1 ? PALETTE : [PALETTE[0], PALETTE[1]], textStyle: { fontSize: 12 },
      title: { text: `Hours of use of ${app}, ${BUCKET_WORD[bucket]}`, textStyle: { fontSize: 13 } },
      grid: { left: 56, right: 56, top: 56, bottom: 56 },
      legend: { top: 22 },
      tooltip: { trigger: "axis", renderMode: "richText" },
      xAxis: calendar ? { type: "category", data: labels(hours), name: axisTitle(bucket), nameLocation: "middle",
        nameGap: 32, axisLabel: { hideOverlap: true, fontSize: 12 } }
        : { type: "time", name: axisTitle(bucket), nameLocation: "middle", nameGap: 32,
          axisLabel: { hideOverlap: true, fontSize: 12, formatter: {
            year: "{yyyy}", month: "{MMM} {yyyy}", day: "{d} {MMM}", hour: "{HH}:{mm}", minute: "{HH}:{mm}",
          } } },
      yAxis: [
        { type: "value", name: "hours of use (h)", nameLocation: "middle", nameGap: 40, min: 0,
          axisLabel: { fontSize: 12 } },
        { type: "value", name: "hosts reporting", nameLocation: "middle", nameGap: 36, min: 0,
          minInterval: 1, splitLine: { show: false }, axisLabel: { fontSize: 12 } },
      ],
      series: [
        ...bars(hours, "hours of use", "hours", x, { type: "bar", barMaxWidth: 24, yAxisIndex: 0 }),
        ...bars(hosts, "hosts reporting", "hosts", x, { type: "line", yAxisIndex: 1, step: calendar ? "middle" : "start",
          showSymbol: false, lineStyle: { width: 1 }, areaStyle: { opacity: 0.15 }, z: 1 }),
      ],
    }, { notMerge: true });
    div.dataset.points = String(hours.reduce((n, s) => n + s.points.length, 0));
  }

  /* What exists of `app` (shown as `name`) whatever the filters: the first and last day it ran, if ever. */
  async function everSeen(app, name) {
    const found = (await window.DreamApi.api("/v1/apps", { q: app, limit: "100" })).items.find((i) => i.app === app);
    return found ? `; ${name} ran from ${found.first_seen.slice(0, 10)} to ${found.last_seen.slice(0, 10)} (any filter)`
      : `; ${name} never ran`;
  }

  /* ctx: filters, app (the chosen product), appName (its display name), bucket (auto, hour, day, week), ask(path, params,
     bucket, bucketsOf) → answer, current(), links(panel, path, params, cli, exportQuery). */
  async function render(ctx) {
    const div = $(ID);
    if (!ctx.app) {
      clear(div, "choose an application to see its hours of use");
      note("");
      $("panel-hours").querySelector(".links").textContent = "";
      return;
    }
    const params = Object.assign({}, ctx.filters, { app: ctx.app });
    const pointsOf = (b) => (b.series[0] || { points: [] }).points;
    const body = await ctx.ask("/v1/analytics/usage", params, ctx.bucket, (b) => pointsOf(b).length);
    // Hosts reporting per bucket: every host with a snapshot, whatever it ran (system processes too).
    const reporting = Object.assign({}, ctx.filters, { include_system: "true", bucket: params.bucket });
    const covered = await window.DreamApi.api("/v1/analytics/usage", reporting);
    if (!ctx.current()) return;
    const total = body.series.flatMap((s) => s.points).reduce((a, p) => a + p.hours, 0);
    const chosen = (ctx.bucket === "auto" ? "auto chose " : "") + BUCKET_WORD[params.bucket];
    div.dataset.bucket = params.bucket;
    const hosts = body.coverage ? plural(body.coverage.hosts, "host") + " reported in the range" : "";
    if (!(total > 0)) {
      clear(div, `no hours of use of ${ctx.appName || ctx.app} under these filters; ${hosts || "no host reported"}`
        + await everSeen(ctx.app, ctx.appName || ctx.app));
      if (!ctx.current()) return;
      div.dataset.bucket = params.bucket;
    } else {
      draw(ctx.appName || ctx.app, body.series, covered.series, params.bucket);
    }
    note(chosen + (total > 0 ? ` · ${total.toFixed(1)} h in all` : "")
      + (hosts ? ` · ${hosts}` : ""));
    ctx.links("panel-hours", "/v1/analytics/usage", params, cliCommand("usage", params), "usage");
  }

  return { render, clear: (message) => { clear($(ID), message); note(""); } };
})();
