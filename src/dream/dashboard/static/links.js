/* Under each panel of the Dream dashboard: the REST call and the `dream query` command that
   reproduce it, and its answer as a CSV or Parquet download (/v1/export). */
"use strict";

window.DreamLinks = (function () {
  const { api, query } = window.DreamApi;

  async function download(params, onError) {
    try {
      const blob = await api("/v1/export", params, "*/*");
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = `${params.query}.${params.format}`;
      document.body.appendChild(a);
      a.click();
      setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    } catch (e) { onError(e); }
  }

  /* panel: the section's id; path and params: the call; cli: its command; exportQuery: the
     question's name in /v1/export; onError: shows a failed download. */
  function renderLinks(panel, path, params, cli, exportQuery, onError) {
    const box = document.getElementById(panel).querySelector(".links");
    box.textContent = "";
    const url = location.origin + path + "?" + query(params);
    const a = document.createElement("a");
    a.href = url; a.className = "rest-link"; a.textContent = "REST: " + url; a.target = "_blank"; a.rel = "noopener";
    box.appendChild(a);
    const code = document.createElement("code");
    code.className = "cli";
    code.textContent = cli;
    box.appendChild(code);
    const downloads = document.createElement("div");
    downloads.className = "downloads";
    for (const format of ["csv", "parquet"]) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = "Download " + format.toUpperCase();
      b.addEventListener("click", () => download(Object.assign({ query: exportQuery }, params, { format }), onError));
      downloads.appendChild(b);
    }
    box.appendChild(downloads);
  }

  return { renderLinks };
})();
