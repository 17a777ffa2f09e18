/* The Dream dashboard's calls to the api: the API key of the tab, JSON or file answers, errors
   as ApiError(status, detail) or Unreachable(path), and the `dream query` command that asks the same question. */
"use strict";

window.DreamApi = (function () {
  const KEY_STORAGE = "dream.apiKey";

  class ApiError extends Error {
    constructor(status, detail) { super(detail); this.status = status; }
  }

  /* No answer at all (server stopped, network down): the browser's own error says only
     "Failed to fetch", so this one names the call that went unanswered. */
  class Unreachable extends Error {
    constructor(path) { super(`no answer from the api for ${path}`); this.path = path; }
  }

  function query(params) { return new URLSearchParams(params).toString(); }

  function authHeaders() {
    const key = sessionStorage.getItem(KEY_STORAGE);
    return key ? { Authorization: "Bearer " + key } : {};
  }

  async function api(path, params, accept) {
    const qs = query(params || {});
    let response;
    try {
      response = await fetch(path + (qs ? "?" + qs : ""), {
        headers: Object.assign({ Accept: accept || "application/json" }, authHeaders()),
      });
    } catch (_) { throw new Unreachable(path); }
    if (!response.ok) {
      let detail = response.statusText;
      try {
        const body = await response.json();
        detail = typeof body.detail === "string" ? body.detail
          : (body.detail || []).map((d) => `${(d.loc || []).slice(-1)[0]}: ${d.msg}`).join("; ");
      } catch (_) { /* not JSON */ }
      throw new ApiError(response.status, detail);
    }
    return accept ? response.blob() : response.json();
  }

  function shellQuote(v) { return /^[\w@%+=:,./-]+$/.test(v) ? v : "'" + String(v).replace(/'/g, "'\\''") + "'"; }

  function cliCommand(sub, params) {
    const flags = { faculty: "--faculty", os: "--os", user: "--user", from: "--from", to: "--to",
      limit: "--limit", metric: "--metric", bucket: "--bucket", group_by: "--group-by", by: "--by",
      app: "--app", host: "--host", category: "--category", product: "--product", term: "--term" };
    const parts = ["dream", "query", sub];
    for (const [k, v] of Object.entries(params)) {
      if (k === "include_system") { if (v === "true") parts.push("--include-system"); continue; }
      if (flags[k]) parts.push(flags[k], shellQuote(v));
    }
    if (location.origin !== "http://localhost:8080") parts.push("--url", location.origin);
    return parts.join(" ");
  }

  return { KEY_STORAGE, ApiError, Unreachable, api, query, shellQuote, cliCommand };
})();
