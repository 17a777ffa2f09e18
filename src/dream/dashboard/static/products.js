/* The dashboard's "top products" panel: the products most used under the filters
   (/v1/analytics/top-apps, group_by=product), by hours of use, users, or share of active users
   with its 95 % Wilson interval (the api's share_ci95_lo/hi) drawn as error bars; executables or
   versions on demand (group_by=executable|version). Drawn by ECharts (plots.js). */
"use strict";

window.DreamProducts = (function () {
  const { PALETTE, clear } = window.DreamPlots;
  const { api, cliCommand } = window.DreamApi;
  const { formatValue } = window.DreamCharts;
  const $ = (id) => document.getElementById(id);
  const ID = "top-apps-chart";
  // What each measure asks (top-apps ranks by `metric`) and draws (`column`, its axis and unit).
  const MEASURES = {
    users: { metric: "users", column: "users", axis: "users", unit: "count" },
    hours: { metric: "hours", column: "hours", axis: "hours of use (h)", unit: "hours" },
    share: { metric: "users", column: "share_users", axis: "share of active users (%)", unit: "percent" },
  };

  /* How a row is named: the product's display name (an executable the catalog does not know:
     its own name, the api's app), and with group_by its executable or version. */
  function label(item, grouping) {
    const name = item.product || item.app;
    if (grouping === "executable") return `${name} · ${item.executable}`;
    if (grouping === "version") return `${name} ${item.version === null ? "(version not shown)" : item.version}`;
    return name;
  }

  /* The drawn value: a share in % (as its axis reads), else the api's figure unchanged. */
  function value(item, measure) {
    const v = item[MEASURES[measure].column];
    return measure === "share" && v !== null && v !== undefined ? v * 100 : v;
  }

  function text(v, measure) {
    return measure === "share" ? `${v.toFixed(1)} %` : formatValue(v, MEASURES[measure].unit, true);
  }

  /* No chart: the message in its place, at its own height (a drawn chart sets one per bar). */
  function empty(message) {
    $(ID).style.height = "";
    clear($(ID), message);
  }

  /* The 95 % interval's whiskers, a line from lo to hi at the bar with caps, and beyond them
     the share and its interval in words (texts: one per bar). */
  const whisker = (texts) => (params, api_) => {
    const lo = api_.coord([api_.value(0), api_.value(2)]), hi = api_.coord([api_.value(1), api_.value(2)]);
    const cap = api_.size([0, 1])[1] * 0.25;
    const style = { stroke: "#000000", lineWidth: 1.5 };
    return { type: "group", children: [
      { type: "line", shape: { x1: lo[0], y1: lo[1], x2: hi[0], y2: hi[1] }, style },
      { type: "line", shape: { x1: lo[0], y1: lo[1] - cap, x2: lo[0], y2: lo[1] + cap }, style },
      { type: "line", shape: { x1: hi[0], y1: hi[1] - cap, x2: hi[0], y2: hi[1] + cap }, style },
      { type: "text", style: { text: texts[params.dataIndex], x: hi[0] + 4, y: hi[1], fontSize: 11,
        verticalAlign: "middle", fill: "#1d2330" } },
    ] };
  };

  function draw(items, measure, grouping) {
    const div = $(ID);
    const labels = items.map((i) => label(i, grouping));
    const values = items.map((i) => value(i, measure));
    const chart = window.DreamPlots.instance(div);
    const intervals = measure === "share"
      ? items.map((i, k) => [i.share_ci95_lo * 100, i.share_ci95_hi * 100, k]).filter((w) => !Number.isNaN(w[0]))
      : [];
    const words = intervals.map(([lo, hi, k]) => `${values[k].toFixed(1)} % [${lo.toFixed(0)}–${hi.toFixed(0)} %]`);
    div.style.height = `${Math.max(220, 70 + 26 * items.length)}px`;
    chart.resize();
    chart.setOption({
      animation: false, color: PALETTE, textStyle: { fontSize: 12 },
      title: { text: `Top ${grouping === "product" ? "products" : grouping + "s"} by ${MEASURES[measure].axis}`,
        textStyle: { fontSize: 13 } },
      grid: { left: 8, right: intervals.length ? 110 : 48, top: 64, bottom: 44, containLabel: true },
      legend: intervals.length ? { top: 24, right: 0, data: [MEASURES[measure].axis, "95 % interval"] } : undefined,
      tooltip: { trigger: "item", renderMode: "richText" },
      yAxis: { type: "category", inverse: true, data: labels, name: grouping, nameLocation: "start",
        axisLabel: { fontSize: 12, width: 170, overflow: "truncate" } },
      xAxis: { type: "value", min: 0, max: measure === "share" ? 100 : undefined,
        minInterval: MEASURES[measure].unit === "count" ? 1 : 0, name: MEASURES[measure].axis,
        nameLocation: "middle", nameGap: 28, axisLabel: { fontSize: 12, hideOverlap: true } },
      series: [
        { name: MEASURES[measure].axis, type: "bar", barMaxWidth: 18,
          data: values.map((v) => ({ value: v, label: { formatter: text(v, measure) } })),
          label: { show: !intervals.length, position: "right", fontSize: 12 } },
        ...(intervals.length ? [{ name: "95 % interval", type: "custom", renderItem: whisker(words), z: 3,
          encode: { x: [0, 1], y: 2 }, data: intervals, color: "#000000" }] : []),
      ],
    }, { notMerge: true });
    div.dataset.points = String(items.length);
  }

  /* ctx: filters, measure (users, hours, share), grouping (product, executable, version),
     current() → still the latest view, links(panel, path, params, cli, exportQuery).
     → {source, catalog, catalogs} of the answer (null: a newer view replaced it). */
  async function render(ctx) {
    const measure = MEASURES[ctx.measure] ? ctx.measure : "users";
    const grouping = ctx.grouping || "product";
    const params = Object.assign({}, ctx.filters, { limit: "10", metric: MEASURES[measure].metric });
    if (grouping !== "product") params.group_by = grouping;
    const body = await api("/v1/analytics/top-apps", params);
    if (!ctx.current()) return null;
    if (!body.items.length) {
      empty("no application was in use under these filters"
        + (body.coverage ? ` (${body.coverage.hosts} host${body.coverage.hosts === 1 ? "" : "s"} reported)` : ""));
    } else if (measure === "share" && body.items.every((i) => i.share_users === null || i.share_users === undefined)) {
      empty(`the share of active users is answered per product, not per ${grouping}`);
    } else {
      draw(body.items, measure, grouping);
    }
    ctx.links("panel-top-apps", "/v1/analytics/top-apps", params, cliCommand("top-apps", params), "top-apps");
    // Where the answer came from, and which catalogs named its products (docs/catalog.md).
    return { source: body.source, catalog: body.catalog, catalogs: body.catalogs || [] };
  }

  /* For the status line: which catalog names the products and, if the range's rows were grouped
     by another one still (a catalog change not yet reprocessed), which. */
  function catalogWords({ catalog, catalogs }) {
    if (!catalog) return "";
    const others = catalogs.filter((v) => v !== catalog);
    return ` · products of catalog ${catalog}` + (others.length ? `; part of this range was grouped`
      + ` by catalog ${others.join(", ")}: dream reprocess re-attributes it` : "");
  }

  return { render, clear: empty, catalogWords };
})();
