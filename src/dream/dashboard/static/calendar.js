/* The academic calendar in the dashboard (GET /v1/calendar): with a calendar configured, the
   usage and hours panels offer the buckets term, teaching week and week of term, and the filters
   a Term; without one, neither is shown. Calendar buckets are labels (2026-autumn, 2026-autumn w3,
   w3), not instants: the panels draw them on a category axis, in the api's order (time order). */
"use strict";

window.DreamCalendar = (function () {
  const BUCKETS = { term: "per term", teaching_week: "per teaching week", week_of_term: "per week of term" };
  const PICKERS = { "f-bucket": "bucket", "f-hbucket": "hbucket" };
  const $ = (id) => document.getElementById(id);
  let zone = null;

  const isCalendar = (bucket) => Object.hasOwn(BUCKETS, bucket);

  /* The x axis' title: a calendar bucket in campus time (its zone named), any other in UTC. */
  const axisTitle = (bucket) => (isCalendar(bucket) ? `${bucket.replace(/_/g, " ")} (${zone})` : `${bucket} (UTC)`);

  /* The bucket labels of an answer's series, each once, in the order the api gives them. */
  const labels = (series) => [...new Set(series.flatMap((s) => s.points.map((p) => p.bucket)))];

  function option(value, text) {
    const o = document.createElement("option"); o.value = value; o.textContent = text; return o;
  }

  /* Asks the api for its calendar; with terms, fills the Term filter and adds the calendar
     buckets to the pickers, then sets them to the view's (`state`) choices. */
  async function offer(api, state) {
    const calendar = await api("/v1/calendar");
    zone = calendar.tz;
    $("term-filter").hidden = !calendar.terms.length;
    if (!calendar.terms.length) return;
    const term = $("f-term");
    term.replaceChildren(term.options[0], ...calendar.terms.map((t) => option(t.id, `${t.id} (${t.start} to ${t.end})`)));
    term.value = state.term;
    for (const [id, key] of Object.entries(PICKERS)) {
      if (!$(id).querySelector("optgroup")) {
        const group = document.createElement("optgroup");
        group.label = `academic calendar (${zone})`;
        group.append(...Object.entries(BUCKETS).map(([v, text]) => option(v, text)));
        $(id).append(group);
      }
      $(id).value = state[key];
    }
  }

  return { BUCKETS, isCalendar, axisTitle, labels, offer };
})();
