-- Named queries of the answers by executable or version (dream.analytics.products). Each starts
-- with "-- name: x". Values are bound parameters; {group} and {order} are column identifiers
-- from a fixed whitelist, {filters} the sessions' filter fragments (queries.sql).

-- name: top_apps_by
-- Per app and {group} (sessions.name: the executable as listed; sessions.version: the product's
-- version) of the sessions in use within [from, to): the distinct users and hosts who ran it,
-- the sessions' observations (process rows; a session reaching past either end counts all of
-- its own), the hours of use clipped to the range, and the sessions launched in it. A session
-- is in use over [first_seen, ended), ended = last_seen + cadence_s (migration 0007).
SELECT app, {group} AS key, count(DISTINCT user_name) AS users, count(DISTINCT host) AS hosts,
       sum(samples)::bigint AS processes,
       sum(date_part('epoch', least(ended, %(to)s) - greatest(first_seen, %(from)s))) / 3600
           AS hours,
       count(*) FILTER (WHERE first_seen >= %(from)s) AS launches
FROM sessions
WHERE first_seen < %(to)s AND ended > %(from)s {filters}
GROUP BY app, {group}
ORDER BY {order} DESC, app, key NULLS LAST
LIMIT %(limit)s

-- name: stored_catalogs
-- The catalog versions that named the stored listings of the UTC days [from, to) touches
-- (catalog_days, migration 0026: a row per day and version), newest use first.
SELECT catalog
FROM catalog_days
WHERE bucket >= date_trunc('day', %(from)s::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
  AND bucket < %(to)s::timestamptz
GROUP BY catalog
ORDER BY max(bucket) DESC, catalog
