/* The Dream dashboard: filters → analytics api calls → charts and tables.
   The view lives in the URL's fragment (#faculty=law&range=7d…), so a view is a link.
   Data calls carry the API key kept in sessionStorage as `Authorization: Bearer <key>`. */
"use strict";

(function () {
  const METRIC_COLUMN = { users: "users", hosts: "hosts", snapshots: "snapshots", processes: "processes",
    cpu: "avg_cpu_percent", memory: "avg_rss_kb", hours: "hours", launches: "launches" };
  // How each column's values read (charts.js UNITS): hours with one decimal, counts whole,
  // memory (the api's KiB) in MiB.
  const COLUMN_UNIT = { users: "count", hosts: "count", snapshots: "count", processes: "count",
    hours: "hours", launches: "count", avg_rss_kb: "kib" };
  const COLUMN_TITLE = { avg_cpu_percent: "avg CPU %", avg_rss_kb: "avg RSS (MiB)" };
  const METRIC_TITLE = { cpu: "avg CPU (%)", memory: "avg RSS (MiB)", hours: "hours of use" };
  const PANELS = window.DreamPanels || [];  // panels in files of their own: {defaults, controls, render, clear}
  const DEFAULTS = Object.assign({ faculty: "", os: "", category: "", term: "", user: "", range: "all", from: "", to: "", metric: "users",
    system: "", group_by: "faculty", bucket: "auto", by: "os", capp: "", cbucket: "auto", seats: "",
    measure: "users", grouping: "product", happ: "", hbucket: "auto" }, ...PANELS.map((p) => p.defaults));
  const PANEL_CONTROLS = Object.assign({ "f-group-by": "group_by", "f-bucket": "bucket", "f-by": "by", "f-capp": "capp",
    "f-cbucket": "cbucket", "f-seats": "seats", "f-measure": "measure", "f-grouping": "grouping", "f-happ": "happ",
    "f-hbucket": "hbucket" }, ...PANELS.map((p) => p.controls));
  // The top products, hours over time and week × hour panels (products.js, hours.js, heatmap.js).
  const usagePanels = () => [window.DreamProducts, window.DreamHours, window.DreamHeatmap];
  const RANGE_HOURS = { "24h": 24, "7d": 7 * 24, "30d": 30 * 24 };
  const $ = (id) => document.getElementById(id);
  const { formatValue, UNITS } = window.DreamCharts;
  const { nothing, refused } = window.DreamEmpty;
  const { KEY_STORAGE, ApiError, Unreachable, api, query, shellQuote, cliCommand } = window.DreamApi;
  const renderLinks = (...args) => window.DreamLinks.renderLinks(...args, showError);

  let state = Object.assign({}, DEFAULTS);
  let generation = 0;
  let processesCursor = null;

  // ------------------------------------------------------------------ state ⇄ URL and form

  function readHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    state = Object.assign({}, DEFAULTS);
    for (const k of Object.keys(DEFAULTS)) if (params.has(k)) state[k] = params.get(k);
  }

  function writeHash() {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(state)) if (v !== DEFAULTS[k]) params.set(k, v);
    const hash = params.toString();
    history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
  }

  function toForm() {
    $("f-faculty").value = state.faculty;
    $("f-os").value = state.os;
    $("f-category").value = state.category;
    $("f-user").value = state.user;
    $("f-range").value = state.range;
    $("f-term").value = state.term;
    $("f-from").value = state.from;
    $("f-to").value = state.to;
    $("f-metric").value = state.metric;
    $("f-system").checked = state.system === "true";
    for (const [id, k] of Object.entries(PANEL_CONTROLS)) $(id).value = state[k];
    showRange();
  }

  function fromForm() {
    state.faculty = $("f-faculty").value;
    state.os = $("f-os").value;
    state.category = $("f-category").value;
    state.user = $("f-user").value.trim();
    state.range = $("f-range").value;
    state.term = $("f-term").value;
    state.from = $("f-from").value;
    state.to = $("f-to").value;
    state.metric = $("f-metric").value;
    state.system = $("f-system").checked ? "true" : "";
    for (const [id, k] of Object.entries(PANEL_CONTROLS)) state[k] = $(id).value.trim();
    showRange();
  }

  /* A chosen term is the view's time range: the Time picker is set aside until it is cleared. */
  function showRange() { $("f-range").disabled = !!state.term; $("custom-range").hidden = state.range !== "custom" || !!state.term; }
  // ------------------------------------------------------------------ the view as api parameters

  function hourCeil(date) {
    const d = new Date(date.getTime());
    if (d.getUTCMinutes() || d.getUTCSeconds() || d.getUTCMilliseconds()) {
      d.setUTCMinutes(0, 0, 0);
      d.setUTCHours(d.getUTCHours() + 1);
    }
    return d;
  }

  const iso = (d) => d.toISOString().replace(".000Z", "Z");

  /* The time bounds of the view, whole hours so the rollups answer; none with a term (its own). */
  function timeBounds() {
    if (state.term) return {};
    if (state.range in RANGE_HOURS) {
      const to = hourCeil(new Date());
      return { from: iso(new Date(to.getTime() - RANGE_HOURS[state.range] * 3600e3)), to: iso(to) };
    }
    if (state.range === "custom") {
      const b = {};
      if (state.from) b.from = state.from.slice(0, 13) + ":00:00Z";
      if (state.to) b.to = state.to.slice(0, 13) + ":00:00Z";
      return b;
    }
    return {};
  }

  function filterParams() {
    const p = {};
    if (state.faculty) p.faculty = state.faculty;
    if (state.os) p.os = state.os;
    if (state.category) p.category = state.category;
    if (state.user) p.user = state.user;
    if (state.term) p.term = state.term;
    Object.assign(p, timeBounds());
    if (state.system === "true") p.include_system = "true";
    return p;
  }

  // ------------------------------------------------------------------ panels

  /* Ask `path` per `choice` of bucket (its answer's buckets counted by bucketsOf); `auto`: hours
     over a range of at most 8 days, else days, unless days give at most 8 (a short history). */
  async function askBucketed(path, params, choice, bucketsOf) {
    const bounds = timeBounds();
    params.bucket = choice;
    if (choice === "auto") {
      const span = bounds.from && bounds.to ? Date.parse(bounds.to) - Date.parse(bounds.from) : null;
      params.bucket = span !== null && span <= 8 * 86400e3 ? "hour" : "day";
    }
    const body = await api(path, params);
    const n = choice === "auto" && params.bucket === "day" ? bucketsOf(body) : 0;
    if (!n || n > 8) return body;
    params.bucket = "hour";
    return api(path, params);
  }

  async function breakdown(f, gen) {
    const params = Object.assign({}, f, { by: state.by, metric: state.metric, limit: "50" });
    const body = await api("/v1/analytics/breakdown", params);
    if (gen !== generation) return null;
    const table = $("breakdown-table");
    const column = METRIC_COLUMN[state.metric];
    const columns = [state.by, "users", "hosts", "hours", "launches", "snapshots", "processes",
      "avg_cpu_percent", "avg_rss_kb"];
    const head = document.createElement("tr");
    for (const c of columns) {
      const th = document.createElement("th");
      th.textContent = COLUMN_TITLE[c] || c;
      if (c !== state.by) th.className = "num";
      head.appendChild(th);
    }
    table.tHead.replaceChildren(head);
    const max = Math.max(1, ...body.items.map((i) => i[column] || 0));
    const rows = body.items.map((item) => {
      const tr = document.createElement("tr");
      tr.dataset.label = String(item[state.by]);
      tr.dataset.value = String(item[column]);
      for (const c of columns) {
        const td = document.createElement("td");
        if (c === state.by) {
          const meter = document.createElement("span");
          meter.className = "meter";
          meter.style.width = `${Math.round(40 * (item[column] || 0) / max)}px`;  // (room: 9 columns at 1920 px)
          td.append(meter, String(c === "app" && item.product ? item.product : item[c]));
        } else {
          td.className = "num";
          td.dataset.column = c;
          td.textContent = formatValue(item[c], COLUMN_UNIT[c]);
          td.title = String(item[c]);
        }
        tr.appendChild(td);
      }
      return tr;
    });
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = columns.length; td.className = "muted"; td.append(nothing(params));
      tr.appendChild(td); rows.push(tr);
    }
    table.tBodies[0].replaceChildren(...rows);
    renderLinks("panel-breakdown", "/v1/analytics/breakdown", params, cliCommand("breakdown", params), "breakdown");
    return body.source;
  }

  const PROCESS_COLUMNS = ["collected_at", "host", "os", "user", "faculty", "product", "name", "version", "pid",
    "cpu_percent", "rss_kb", "command"];

  async function processes(f, gen, more) {
    const params = Object.assign({}, f, { limit: "50" });
    const call = Object.assign({}, params);
    if (more && processesCursor) call.cursor = processesCursor;
    const table = $("processes-table");
    let body;
    try {
      body = await api("/v1/processes", call);
    } catch (e) {  // a `query` key reads aggregates only: rows need a `steward` key
      if (!(e instanceof ApiError && e.status === 403)) throw e;
      if (gen !== generation) return;
      table.tHead.replaceChildren();
      table.tBodies[0].replaceChildren();
      $("processes-more").hidden = true;
      $("processes-count").textContent = "(rows need a key with the `steward` role)";
      return;
    }
    if (gen !== generation) return;
    if (!more) {
      const head = document.createElement("tr");
      for (const c of PROCESS_COLUMNS) {
        const th = document.createElement("th"); th.textContent = c; head.appendChild(th);
      }
      table.tHead.replaceChildren(head);
      table.tBodies[0].replaceChildren();
    }
    for (const row of body.items) {
      const tr = document.createElement("tr");
      for (const c of PROCESS_COLUMNS) {
        const td = document.createElement("td");
        let v = c === "product" ? row.product || row.app : row[c];  // unknown: the executable's app
        if (c === "collected_at" && v) v = String(v).slice(0, 19).replace("T", " ");
        if (c === "command" && v && v.length > 80) { td.title = v; v = v.slice(0, 79) + "…"; }
        if (["pid", "cpu_percent", "rss_kb"].includes(c)) td.className = "num";
        td.textContent = v === null || v === undefined ? "" : String(v);
        tr.appendChild(td);
      }
      table.tBodies[0].appendChild(tr);
    }
    processesCursor = body.next_cursor;
    $("processes-more").hidden = !processesCursor;
    $("processes-count").textContent = `(${table.tBodies[0].rows.length} shown${processesCursor ? ", more available" : ""})`;
    if (!table.tBodies[0].rows.length) $("processes-count").append(" ", nothing(params, "processes"));
    if (!more) {
      const box = $("panel-processes").querySelector(".links");
      renderLinks("panel-processes", "/v1/processes", params,
        "curl -s -H \"Authorization: Bearer $DREAM_API_KEY\" " + shellQuote(location.origin + "/v1/processes?" + query(params)),
        "processes");
      box.querySelector("code").classList.add("curl");
    }
  }

  // ------------------------------------------------------------------ refresh

  const SOURCES = { rollup: "rollups", sessions: "sessions" };

  function setStatus(message, isError) {
    const s = $("status");
    s.textContent = message;
    s.className = isError ? "error" : "";
  }

  function showError(e) {
    if (e instanceof ApiError && e.status === 401) {
      setStatus("This api needs an API key with the `query` role: type it above and press “Use key”. (" + e.message + ")", true);
    } else if (e instanceof ApiError && e.status === 403) {
      setStatus("This API key may not ask that: " + e.message, true);
    } else if (e instanceof ApiError) {
      setStatus(`The api answered ${e.status}: ${e.message}`, true);
    } else if (e instanceof Unreachable) {
      setStatus(`Cannot reach the api at ${location.origin}: ${e.path} got no answer (the server`
        + " is stopped or the network is down). Change a filter or reload to try again.", true);
    } else {
      setStatus("The page could not draw this view: " + e.message, true);
    }
    document.body.dataset.state = "error";
  }

  /* After a failed refresh no panel keeps the previous view's figures under the new filters. */
  /* message: a string, or a node (an empty state: DreamEmpty) each panel shows a copy of. */
  function clearPanels(message) {
    for (const panel of usagePanels()) panel.clear(message);
    window.DreamUsage.reset(message);
    window.DreamPlots.clear($("concurrency-chart"), message);
    $("concurrency-note").textContent = "";
    for (const p of PANELS) p.clear(message);
    for (const id of ["breakdown-table", "processes-table"]) {
      $(id).tHead.replaceChildren();
      $(id).tBodies[0].replaceChildren();
    }
    $("processes-more").hidden = true;
    $("processes-count").textContent = "";
    if (typeof message !== "string") {  // the tables say it too
      const tr = document.createElement("tr"), td = document.createElement("td");
      td.className = "muted"; td.append(message.cloneNode(true)); tr.append(td);
      $("breakdown-table").tBodies[0].replaceChildren(tr);
      $("processes-count").append(message.cloneNode(true));
    }
    for (const box of document.querySelectorAll(".panel .links")) box.textContent = "";
  }

  async function refresh() {
    const gen = ++generation;
    const f = filterParams();
    const view = query(Object.assign({}, state, f));
    document.body.dataset.state = "loading";
    setStatus("Loading…");
    processesCursor = null;
    try {
      const ctx = { filters: f, state, app: state.capp, bucket: state.cbucket, seats: state.seats,
        ask: askBucketed, current: () => gen === generation, links: renderLinks };
      const column = METRIC_COLUMN[state.metric];
      const usage = window.DreamUsage.render({ filters: f, groupBy: state.group_by, bucket: state.bucket,
        column, scale: (UNITS[COLUMN_UNIT[column]] || {}).scale || 1, counts: COLUMN_UNIT[column] === "count",
        yTitle: METRIC_TITLE[state.metric] || state.metric, ask: askBucketed, current: () => gen === generation,
        links: renderLinks });
      const [top] = await Promise.all([...usagePanels().map((p) => p.render({ filters: f, measure: state.measure,
        grouping: state.grouping, app: state.happ, appName: pickedName("f-happ"), bucket: state.hbucket, ask: askBucketed,
        current: () => gen === generation, links: renderLinks })), usage, breakdown(f, gen),
        processes(f, gen, false), window.DreamConcurrency.render(ctx), ...PANELS.map((p) => p.render(ctx))]);
      if (gen !== generation) return;
      setStatus(`Updated ${new Date().toLocaleTimeString()} · answered from ${SOURCES[top.source] || "raw rows"}`
        + window.DreamProducts.catalogWords(top));
      document.body.dataset.view = view;
      document.body.dataset.state = "ready";
    } catch (e) {
      if (gen !== generation) return;
      generation++;  // a panel still on its way drops its answer instead of drawing it
      clearPanels(refused(e, f) || "not shown: the api's answer is missing (see the message above)");
      showError(e);
    }
  }

  /* The chosen option's words (a product's display name), or "" when none is chosen. */
  function pickedName(id) {
    const o = $(id).selectedOptions[0];
    return o && o.value ? o.textContent : "";
  }

  /* The select's options after its first: `values`, and `keep` (the view's) even if not among them;
     an option reads `names[v]` where given (a product's display name), else its value. */
  function fillSelect(select, values, keep, names = {}) {
    select.replaceChildren(select.options[0]);
    for (const v of keep && !values.includes(keep) ? [...values, keep] : values) {
      const o = document.createElement("option"); o.value = v; o.textContent = names[v] || v; select.appendChild(o);
    }
    select.value = keep;
  }

  async function loadPickers() {
    try {
      const [faculties, apps] = await Promise.all([api("/v1/faculties", { limit: "500" }),
        api("/v1/apps", { limit: "1000" })]);
      fillSelect($("f-faculty"), faculties.items.map((i) => i.faculty), state.faculty);
      // Products by display name (the api's app, the id, is what a view keeps); the categories
      // the catalog gives the apps in use.
      const names = Object.fromEntries(apps.items.map((i) => [i.app, i.product || i.app]));
      const ids = Object.keys(names).sort((a, b) => names[a].localeCompare(names[b]));
      for (const [id, k] of [["f-capp", "capp"], ["f-happ", "happ"]]) fillSelect($(id), ids, state[k], names);
      fillSelect($("f-category"), [...new Set(apps.items.map((i) => i.category).filter(Boolean))].sort(), state.category);
      await Promise.all([loadUsers(), window.DreamCalendar.offer(api, state)]);
    } catch (e) { showError(e); }
  }

  async function loadUsers() {
    const params = { limit: "300" };
    if (state.faculty) params.faculty = state.faculty;
    if (state.os) params.os = state.os;
    const users = await api("/v1/users", params);
    $("users").replaceChildren(...users.items.map((i) => { const o = document.createElement("option"); o.value = i.user; return o; }));
  }

  function changed(event) {
    fromForm();
    writeHash();
    if (event && ["f-faculty", "f-os"].includes(event.target.id)) loadUsers().catch(() => {});
    refresh();
  }

  function keyState() {
    $("key-state").textContent = sessionStorage.getItem(KEY_STORAGE) ? "key set for this tab" : "no key";
  }

  function init() {
    readHash();
    toForm();
    keyState();
    $("filters").addEventListener("change", changed);
    $("filters").addEventListener("submit", (e) => { e.preventDefault(); changed(e); });
    for (const id of Object.keys(PANEL_CONTROLS)) $(id).addEventListener("change", changed);
    $("processes-more").addEventListener("click", () => processes(filterParams(), generation, true).catch(showError));
    $("key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const key = $("key").value.trim();
      if (key) sessionStorage.setItem(KEY_STORAGE, key);
      $("key").value = "";
      keyState();
      loadPickers().then(refresh);
    });
    $("key-forget").addEventListener("click", () => { sessionStorage.removeItem(KEY_STORAGE); keyState(); });
    window.addEventListener("hashchange", () => { readHash(); toForm(); refresh(); });
    loadPickers().then(refresh);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
