/* The dashboard's "usage over time" panel: the metric per bucket (/v1/analytics/usage), one
   small chart per group (faculty, OS or application; at most MAX_GROUPS, the largest) on one
   time range and one scale, drawn by ECharts (plots.js). A bucket without data is drawn as 0.
   "auto" buckets say what they chose, on the bucket picker and the time axis. A calendar bucket
   (calendar.js) is a label on a category axis; by week of term, one chart per term. */
"use strict";

window.DreamUsage = (function () {
  const { smallMultiples, clear } = window.DreamPlots;
  const { cliCommand } = window.DreamApi;
  const { isCalendar, axisTitle, labels } = window.DreamCalendar;
  const MAX_GROUPS = 8;
  const STEP = { hour: 3600e3, day: 86400e3 };
  const ADVERB = { hour: "hourly", day: "daily", week: "weekly", month: "monthly" };
  const $ = (id) => document.getElementById(id);

  /* Buckets with no snapshot are no use: 0, marked filled (not counted as the api's points). */
  function fillGaps(series, bucket) {
    const step = STEP[bucket];
    if (!step) return;
    const times = series.flatMap((s) => s.points.map((p) => p.t.getTime()));
    const t0 = Math.min(...times), t1 = Math.max(...times);
    if (!((t1 - t0) / step <= 2000)) return;
    for (const s of series) {
      const have = new Map(s.points.map((p) => [p.t.getTime(), p]));
      s.points = [];
      for (let t = t0; t <= t1; t += step) s.points.push(have.get(t) || { t: new Date(t), value: 0, filled: true });
    }
  }

  /* ctx: filters (the view's api parameters), groupBy, bucket (hour … month or auto), column (the
     answer's field), scale (a factor for display units, e.g. KiB → MiB), yTitle, counts (whole
     numbers), ask(path, params, bucket, bucketsOf), current() → still the latest view, links. */
  async function render(ctx) {
    const div = $("usage-chart");
    const params = Object.assign({}, ctx.filters);
    if (ctx.groupBy && ctx.bucket !== "week_of_term") params.group_by = ctx.groupBy;  // else by term
    const body = await ctx.ask("/v1/analytics/usage", params, ctx.bucket,
      (b) => new Set(b.series.flatMap((s) => s.points.map((p) => p.bucket))).size);
    if (!ctx.current()) return null;
    const calendar = isCalendar(params.bucket);
    $("f-bucket").options[0].textContent = ctx.bucket === "auto" ? `auto: ${ADVERB[params.bucket]}` : "auto";
    let series = body.series.map((s) => ({
      name: s.group === null ? "all" : String(s.group),
      points: s.points.map((p) => ({ t: calendar ? p.bucket : new Date(p.bucket), value: p[ctx.column] === null ? null : p[ctx.column] * ctx.scale })),
    }));
    fillGaps(series, params.bucket);
    const total = (s) => s.points.reduce((a, p) => a + (p.value || 0), 0);
    const shown = series.sort((a, b) => total(b) - total(a)).slice(0, MAX_GROUPS);
    $("usage-note").textContent = series.length > shown.length
      ? `the ${shown.length} largest of ${series.length} groups` : "";
    series = shown;
    smallMultiples(div, series, { xTitle: axisTitle(params.bucket), yTitle: ctx.yTitle, counts: ctx.counts,
      categories: calendar ? labels(body.series) : undefined,
      empty: window.DreamEmpty.nothing(params) });
    ctx.links("panel-usage", "/v1/analytics/usage", params, cliCommand("usage", params), "usage");
    return body.source;
  }

  function reset(message) {
    clear($("usage-chart"), message);
    $("usage-note").textContent = "";
  }

  return { render, reset };
})();
