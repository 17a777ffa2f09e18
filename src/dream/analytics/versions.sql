-- Named queries of top-apps by executable or version over whole days, from the rollups of
-- migration 0025 (dream.analytics.versions). Each starts with "-- name: x". {key} is `name` or
-- `version` ('' where none), {p} '' or 'u_' (non-system sessions only), {seen} the presence
-- test of a range's days (queries.sql, presence_apps_seen), {filters} the app's.

-- name: top_apps_by_rollup
-- The same rows as products.sql's top_apps_by over [day_from, day_to): groups with a session in
-- use there (a presence row), their users and hosts (rows of usage_versions_presence), the
-- observations of the sessions in use (first_day < day_to, last_day >= day_from), their
-- hours and launches in the range's days.
WITH people AS (
    SELECT app, key, count(*) FILTER (WHERE dim = 'u') AS users,
           count(*) FILTER (WHERE dim = 'h') AS hosts
    FROM usage_versions_presence
    WHERE kind = %(kind)s AND {seen} {filters}
    GROUP BY 1, 2
), counts AS (
    SELECT app, {key} AS key, sum({p}seconds) / 3600 AS hours, sum({p}launches) AS launches
    FROM usage_versions_daily
    WHERE bucket >= %(day_from)s AND bucket < %(day_to)s {filters}
    GROUP BY 1, 2
), spans AS (
    SELECT app, {key} AS key, sum({p}samples) AS processes
    FROM usage_versions_spans
    WHERE first_day < %(day_to)s AND last_day >= %(day_from)s {filters}
    GROUP BY 1, 2
)
SELECT app, CASE WHEN %(kind)s = 'v' THEN nullif(key, '') ELSE key END AS key, users, hosts,
       coalesce(processes, 0)::bigint AS processes, coalesce(hours, 0) AS hours,
       coalesce(launches, 0)::bigint AS launches
FROM people
LEFT JOIN counts USING (app, key)
LEFT JOIN spans USING (app, key)
ORDER BY {order} DESC, app, 2 NULLS LAST
LIMIT %(limit)s
