/* What a panel says instead of a chart when there is nothing to draw: what was asked, in words
   ("no snapshots for faculty `law`, last 7 days"), and, when the api refused a value nothing
   holds, what exists ("no snapshots for faculty `laww`; did you mean `law`?"). Any panel may use
   it: DreamEmpty.nothing(params) for an empty answer, DreamEmpty.refused(error) for a 422. */
"use strict";

window.DreamEmpty = (function () {
  const NAMES = { faculty: "faculty", os: "OS", user: "user", host: "host", app: "application",
    product: "product", category: "category" };

  /* A sentence with `code` spans: parts are strings, or [text] for a value shown as code. */
  function sentence(parts) {
    const span = document.createElement("span");
    span.className = "empty-state";
    for (const p of parts) {
      if (Array.isArray(p)) {
        const c = document.createElement("code"); c.textContent = p[0]; span.append(c);
      } else span.append(p);
    }
    span.dataset.text = span.textContent;
    return span;
  }

  const day = (iso) => iso.slice(0, 16).replace("T", " ").replace(" 00:00", "");

  /* The view's filters as sentence parts: faculty `law`, OS `linux`, 2026-11-01 to 2026-11-08 (UTC). */
  function asked(params) {
    const parts = [];
    for (const [k, name] of Object.entries(NAMES)) {
      if (params[k]) parts.push(parts.length ? ", " : "", `${name} `, [params[k]]);
    }
    if (params.from || params.to) {
      const range = `${params.from ? "from " + day(params.from) : ""}${params.from && params.to ? " " : ""}`
        + `${params.to ? "until " + day(params.to) : ""} (UTC)`;
      parts.push(parts.length ? ", " : "", range);
    }
    return parts.length ? parts : ["any faculty, all time"];
  }

  /* An empty answer: what was asked, and what to change. */
  function nothing(params, what) {
    return sentence([`no ${what || "snapshots"} for `, ...asked(params),
      "; widen the time range or clear a filter"]);
  }

  /* An api refusal of a filter value as a sentence with what exists, or null for any other
     error. The api writes "faculty: unknown value 'laww'; closest known: law, lawn" and, for a
     value of a fixed list, "os: unknown value 'linx'; closest known: linux; Input should be
     'linux', 'windows' or 'macos'" (the closest, else the list). */
  function refused(error, params) {
    if (!error || error.status !== 422) return null;
    const m = /^(\w+): (?:unknown value '([^']*)')?(?:; )?(?:closest known: ([^;]+))?(?:; )?(?:Input should be (.+))?$/
      .exec(error.message || "");
    if (!m || !NAMES[m[1]] || (m[2] === undefined && m[4] === undefined)) return null;
    const [, param, value, close, allowed] = m;
    const parts = [`no snapshots for ${NAMES[param]} `, [value !== undefined ? value : (params || {})[param] || "?"]];
    const names = (close || allowed || "").trim().split(/, | or /).map((v) => v.replace(/^'|'$/g, "")).filter(Boolean);
    if (names.length) {
      parts.push(close ? "; did you mean " : "; it is one of ");
      names.forEach((n, i) => parts.push(i ? (i === names.length - 1 ? " or " : ", ") : "", [n]));
      parts.push(close ? "?" : "");
    } else parts.push("; no known value is close to it");
    return sentence(parts);
  }

  return { asked, nothing, refused, sentence };
})();
