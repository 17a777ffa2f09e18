/* The dashboard's executables panel: "the average file size of non-system executables on
   macOS", per OS — the mean and median size (MB) of the distinct files the hosts ran and how
   many there are, from one /v1/analytics/executables call per OS. System files (signed by the
   OS vendor, or its packages: docs/agent.md) are left out unless asked for. */
"use strict";

(function () {
  const { api, cliCommand } = window.DreamApi;
  const { groupedBars, clear } = window.DreamBars;
  const $ = (id) => document.getElementById(id);
  const OSES = [["linux", "Linux"], ["macos", "macOS"], ["windows", "Windows"]];
  const MB = 1e6;  // bytes: the unit file managers show

  const mb = (bytes) => (bytes === null || bytes === undefined ? "–" : (bytes / MB).toFixed(1));

  function cell(tr, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    tr.appendChild(td);
    return td;
  }

  function clearPanel(message) {
    clear($("executables-chart"), message);
    $("executables-table").tBodies[0].replaceChildren();
    for (const [os] of OSES) $(`executables-links-${os}`).hidden = true;
    delete $("panel-executables").dataset.view;
  }

  async function render(ctx) {
    const system = ctx.state.exe_system === "true";
    const oses = OSES.filter(([os]) => !ctx.filters.os || ctx.filters.os === os);
    const calls = oses.map(([os]) => Object.assign({}, ctx.filters,
      { os, include_system: system ? "true" : "false" }));
    const bodies = await Promise.all(calls.map((params) => api("/v1/analytics/executables", params)));
    if (!ctx.current()) return;
    const what = system ? "executables" : "non-system executables";
    const found = oses.map(([os, label], i) => ({ os, label, body: bodies[i] })).filter((r) => r.body.files > 0);
    const rows = found.map(({ os, label, body }) => {
      const tr = document.createElement("tr");
      tr.dataset.os = os;
      tr.dataset.files = String(body.files);
      tr.dataset.avgBytes = String(body.avg_size_bytes);
      tr.dataset.medianBytes = String(body.median_size_bytes);
      cell(tr, label);
      cell(tr, String(body.files), "num");
      cell(tr, mb(body.avg_size_bytes), "num");
      cell(tr, mb(body.median_size_bytes), "num");
      cell(tr, mb(body.avg_size_bytes_per_host), "num");
      return tr;
    });
    if (!rows.length) {
      const reported = bodies.map((b) => (b.coverage ? b.coverage.hosts : 0)).reduce((x, y) => x + y, 0);
      clearPanel(`no ${what} under these filters: ${reported} host${reported === 1 ? "" : "s"} reported`
        + " in the range, none with executables' facts (agents send them with each snapshot)");
    } else {
      groupedBars($("executables-chart"), found.map((r) => r.label), [
        { name: "mean", values: found.map((r) => r.body.avg_size_bytes / MB) },
        { name: "median", values: found.map((r) => r.body.median_size_bytes / MB) },
      ], { title: `file size of the ${what} the hosts ran, per OS`, xTitle: "file size (MB)", yTitle: "OS", digits: 1 });
      $("executables-table").tBodies[0].replaceChildren(...rows);
    }
    oses.forEach(([os], i) => {
      $(`executables-links-${os}`).hidden = false;
      ctx.links(`executables-links-${os}`, "/v1/analytics/executables", calls[i],
        cliCommand("executables", calls[i]), "executables");
    });
    for (const [os] of OSES) if (!oses.some(([o]) => o === os)) $(`executables-links-${os}`).hidden = true;
    $("panel-executables").dataset.view = new URLSearchParams({ system: String(system), os: ctx.filters.os || "" }).toString();
  }

  (window.DreamPanels = window.DreamPanels || []).push({
    defaults: { exe_system: "" }, controls: { "f-exe-system": "exe_system" }, render, clear: clearPanel,
  });
})();
