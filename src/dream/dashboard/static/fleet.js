/* The dashboard's fleet health panel: of the hosts seen under the filters (/v1/hosts), how
   many are reporting, late, silent or never heard since fleet health was recorded, and the
   ones not reporting with when the api last heard from them and their clock's skew. A `query`
   key's answer leaves out the hosts under the k-anonymity floor: the panel says how many. */
"use strict";

(function () {
  const { api, cliCommand } = window.DreamApi;
  const $ = (id) => document.getElementById(id);
  const STATES = ["reporting", "late", "silent", "never"];
  const ORDER = { silent: 0, late: 1, never: 2 };
  const LIMIT = 1000;  // hosts asked for: a fleet past it is counted in part, and the panel says so

  /* "3 h ago", from the api's timestamp (the page's clock: close enough for hours). */
  function ago(iso) {
    if (!iso) return "never";
    const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (s < 90) return "just now";
    if (s < 5400) return `${Math.round(s / 60)} min ago`;
    if (s < 2 * 86400) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} d ago`;
  }

  function skew(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    return `${seconds > 0 ? "+" : ""}${Math.round(seconds)} s`;
  }

  function clearPanel(message) {
    for (const k of STATES) $(`fleet-${k}`).textContent = "–";
    $("fleet-table").tBodies[0].replaceChildren();
    $("fleet-note").textContent = message || "";
    delete $("panel-fleet").dataset.view;
  }

  async function render(ctx) {
    const params = Object.assign({}, ctx.filters, { limit: String(LIMIT) });
    const body = await api("/v1/hosts", params);
    if (!ctx.current()) return;
    const status = (h) => h.status || "never";
    const counts = Object.fromEntries(STATES.map((k) => [k, body.items.filter((h) => status(h) === k).length]));
    for (const k of STATES) $(`fleet-${k}`).textContent = String(counts[k]);
    const quiet = body.items.filter((h) => status(h) !== "reporting")
      .sort((x, y) => ORDER[status(x)] - ORDER[status(y)] || String(x.last_seen).localeCompare(String(y.last_seen)));
    const rows = quiet.map((h) => {
      const tr = document.createElement("tr");
      tr.dataset.host = h.host;
      tr.dataset.status = status(h);
      for (const [text, title, num] of [[h.host], [status(h)], [ago(h.last_seen), h.last_seen || ""],
        [h.cadence_s ? `${Math.round(h.cadence_s / 60)} min` : "–", "", true],
        [skew(h.clock_skew_s), h.clock_skew_s === null ? "" : String(h.clock_skew_s), true], [h.agent || "–"]]) {
        const td = document.createElement("td");
        td.textContent = text;
        if (title) td.title = title;
        if (num) td.className = "num";
        tr.appendChild(td);
      }
      return tr;
    });
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 6; td.className = "muted";
      td.textContent = body.items.length ? `all ${body.items.length} hosts seen under these filters are reporting`
        : "no hosts seen under these filters";
      tr.appendChild(td); rows.push(tr);
    }
    $("fleet-table").tBodies[0].replaceChildren(...rows);
    $("fleet-note").textContent = [body.suppressed ? `${body.suppressed} host${body.suppressed === 1 ? "" : "s"}`
      + ` withheld: each counted fewer than ${body.min_group_users} users (the floor of a \`query\` key),`
      + " so the counts above leave them out" : "",
    body.items.length >= LIMIT ? `only the first ${LIMIT} hosts are counted: narrow the filters for the rest` : "",
    ].filter(Boolean).join(" · ");
    ctx.links("panel-fleet", "/v1/hosts", params, cliCommand("hosts", params), "hosts");
    $("panel-fleet").dataset.view = new URLSearchParams(params).toString();
  }

  (window.DreamPanels = window.DreamPanels || []).push({ defaults: {}, controls: {}, render, clear: clearPanel });
})();
