/* The dashboard's "compare two cohorts" panel: for an application (or every one), two
   faculties' shares of active users who used it, side by side with their 95 % intervals, and
   the test's answer in words — "engineering 80 % [49–94 %] vs science 20 % [6–51 %], p = 0.02
   (Fisher's exact test)" — from /v1/analytics/compare. Without an application the api lists
   every app, largest difference first: the first few are drawn and said. */
"use strict";

(function () {
  const { api, cliCommand, shellQuote } = window.DreamApi;
  const { groupedBars, clear } = window.DreamBars;
  const $ = (id) => document.getElementById(id);
  const TOP = 6;  // apps drawn without an application chosen
  const TESTS = { fisher_exact: "Fisher's exact test", two_proportion_z: "two-proportion z-test" };

  const pct = (x) => Math.round(x * 100);

  /* "p = 0.02", "p = 0.004", "p < 0.001" (or q: the Benjamini–Hochberg adjusted p). */
  function pText(p, name = "p") {
    if (p === null || p === undefined) return "";
    return p < 0.001 ? `${name} < 0.001` : `${name} = ${p.toFixed(p < 0.01 ? 3 : 2)}`;
  }

  /* One cohort in words: "engineering 80 % [49–94 %]", or why it has no share. */
  function side(name, share, lo, hi) {
    if (share === null || share === undefined) return `${name}: no active users`;
    return `${name} ${pct(share)} % [${pct(lo)}–${pct(hi)} %]`;
  }

  /* An items row of the answer (a_share, a_ci95_lo, …) in words. */
  function sentence(row, a, b) {
    const p = pText(row.p_value);
    return `${side(a, row.a_share, row.a_ci95_lo, row.a_ci95_hi)} vs `
      + `${side(b, row.b_share, row.b_ci95_lo, row.b_ci95_hi)}`
      + (p ? `, ${p} (${TESTS[row.test] || row.test})` : "");
  }

  /* The select's options: `values` after its first option, and `keep` even if not among them. */
  function fill(select, values, keep) {
    select.replaceChildren(...[...select.options].slice(0, select.dataset.fixed ? 1 : 0));
    for (const v of keep && !values.includes(keep) ? [...values, keep] : values) {
      const o = document.createElement("option"); o.value = o.textContent = v; select.appendChild(o);
    }
    select.value = keep;
  }

  function say(text, note) {
    $("compare-answer").replaceChildren();
    $("compare-answer").textContent = text;
    $("compare-note").textContent = note || "";
  }

  function clearPanel(message) {
    clear($("compare-chart"), message);
    say("", "");
    delete $("panel-compare").dataset.view;
  }

  async function render(ctx) {
    const faculties = [...$("f-faculty").options].map((o) => o.value).filter(Boolean);
    const app = ctx.state.cmp_app;
    const a = (ctx.state.cmp_a || faculties[0] || "").toLowerCase();
    const b = (ctx.state.cmp_b || faculties.find((f) => f !== a) || "").toLowerCase();
    fill($("f-cmp-app"), [...$("f-capp").options].map((o) => o.value).filter(Boolean), app);
    fill($("f-cmp-a"), faculties, a);
    fill($("f-cmp-b"), faculties, b);
    if (!a || !b || a === b) {
      clearPanel(`choose two different faculties to compare (${faculties.length} seen)`);
      return;
    }
    // The cohorts are faculties: the view's faculty filter would leave one of them empty.
    const params = Object.assign({}, ctx.filters, { by: "faculty", cohort: ctx.state.cmp_cohort, a, b });
    delete params.faculty;
    if (app) params.app = app;
    const body = await api("/v1/analytics/compare", params);
    if (!ctx.current()) return;
    const rows = app ? body.items.slice(0, 1) : body.items.slice(0, TOP);
    const floor = body.suppressed ? `${body.suppressed} answer${body.suppressed === 1 ? "" : "s"}`
      + ` withheld: a cohort counted fewer than ${body.min_group_users} users (the floor of a`
      + " `query` key)" : "";
    const who = ctx.state.cmp_cohort === "user" ? "users' faculty" : "machines' faculty";
    const asked = `${app || "any application"} in ${a} and ${b} (${who})`;
    const nobody = rows.length && rows.every((r) => r.a_share === null && r.b_share === null);
    if (!rows.length || nobody) {
      clearPanel(floor ? `${asked}: withheld` : nobody ? `no active users in ${a} nor ${b} (${who}) in this range`
        : `no use of ${asked} in this range`);
    } else {
      const series = [[a, "a"], [b, "b"]].map(([name, s]) => ({
        name, values: rows.map((r) => (r[`${s}_share`] === null ? null : r[`${s}_share`] * 100)),
        intervals: rows.map((r) => (r[`${s}_ci95_lo`] === null ? null
          : [r[`${s}_ci95_lo`] * 100, r[`${s}_ci95_hi`] * 100])),
      }));
      groupedBars($("compare-chart"), rows.map((r) => r.app), series, { digits: 0, max: 100,
        title: `share of active users who used ${app || "each application"} (${who})`,
        xTitle: "active users who used it (%, 95 % interval)", yTitle: "application" });
    }
    if (app && rows.length) {
      say(sentence(rows[0], a, b));
    } else if (rows.length) {
      const list = document.createElement("ol");
      for (const r of rows.slice(0, 3)) {
        const li = document.createElement("li");
        li.dataset.app = r.app;
        li.textContent = `${r.app}: ${sentence(r, a, b)}` + (r.q_value === null ? "" : `, ${pText(r.q_value, "q")}`);
        list.appendChild(li);
      }
      $("compare-answer").replaceChildren(list);
    }
    const unused = ctx.filters.faculty ? `the faculty filter (${ctx.filters.faculty}) does not apply: the cohorts are faculties` : "";
    $("compare-note").textContent = [floor, unused, ...(body.warnings || [])].filter(Boolean).join(" · ");
    const cli = cliCommand("compare", params).replace("dream query compare",
      `dream query compare --a ${shellQuote(a)} --b ${shellQuote(b)} --cohort ${params.cohort}`);
    ctx.links("panel-compare", "/v1/analytics/compare", params, cli, "compare");
    $("panel-compare").dataset.view = new URLSearchParams(params).toString();
  }

  (window.DreamPanels = window.DreamPanels || []).push({
    defaults: { cmp_app: "", cmp_a: "", cmp_b: "", cmp_cohort: "host" },
    controls: { "f-cmp-app": "cmp_app", "f-cmp-a": "cmp_a", "f-cmp-b": "cmp_b", "f-cmp-cohort": "cmp_cohort" },
    render, clear: clearPanel,
  });
})();
