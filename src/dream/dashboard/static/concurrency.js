/* The dashboard's "seats in use at once" panel: for one application, the most users running it
   at the same instant in each bucket (/v1/analytics/concurrency: what licence seats are sized
   by) and its 95th percentile, with a line at the seat count typed in, if any. Drawn by
   ECharts (plots.js). */
"use strict";

window.DreamConcurrency = (function () {
  const { timeChart, clear } = window.DreamPlots;
  const { cliCommand } = window.DreamApi;
  const $ = (id) => document.getElementById(id);

  /* ctx: filters (the view's api parameters), app, bucket (hour, day, week or auto), seats
     (text), ask(path, params, bucket, bucketsOf) → answer, current() → still the latest view,
     links(panel, path, params, cli, exportQuery). */
  async function render(ctx) {
    const div = $("concurrency-chart");
    if (!ctx.app) {
      clear(div, "choose an application");
      $("concurrency-note").textContent = "";
      $("panel-concurrency").querySelector(".links").textContent = "";
      return;
    }
    const params = Object.assign({}, ctx.filters, { app: ctx.app });
    const body = await ctx.ask("/v1/analytics/concurrency", params, ctx.bucket, (b) => b.items.length);
    if (!ctx.current()) return;
    const seats = Number.parseInt(ctx.seats, 10) > 0 ? Number.parseInt(ctx.seats, 10) : null;
    const line = (name, column) => ({ name, points: body.items.map((i) => ({ t: new Date(i.bucket), value: i[column] })) });
    timeChart(div, [line("peak users", "peak_users"), line("95th percentile", "p95_users")], {
      xTitle: `${params.bucket} (UTC)`, yTitle: "users at once", counts: true,
      line: seats ? { value: seats, label: `${seats} seat${seats === 1 ? "" : "s"}` } : null,
    });
    div.dataset.seats = seats ? String(seats) : "";
    const peak = Math.max(0, ...body.items.map((i) => i.peak_users));
    let note = body.items.length ? `at most ${peak} user${peak === 1 ? "" : "s"} at once` : "";
    if (seats && body.items.length) {
      const over = body.items.filter((i) => i.peak_users > seats).length;
      note += ` · more than ${seats} seat${seats === 1 ? "" : "s"} in use in ${over} of ${body.items.length} ${params.bucket}s`;
    }
    $("concurrency-note").textContent = note;
    ctx.links("panel-concurrency", "/v1/analytics/concurrency", params, cliCommand("concurrency", params), "concurrency");
  }

  return { render };
})();
