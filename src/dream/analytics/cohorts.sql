-- Cohorts: use attributed to the user's cohort (the directory, migration 0019) or the machine's,
-- with the cohort's active users beside it (docs/analytics.md, "Cohorts, shares and compare").

-- name: cohort_sessions
-- The sessions in use within [from, to) under the filters naming who and where ({who}), each
-- with its cohort ({cohort}: a column of the session, `s`, or of the user's directory
-- membership as of the session's start, `d`; null for a user the directory does not know).
-- {directory}: `directory_join` where the cohort or a filter reads the directory, else nothing
-- (the machine's cohorts need no join, and skip its cost).
SELECT s.user_name, s.host, s.app, s.is_system, s.first_seen, s.ended, {cohort} AS cohort
FROM (SELECT user_name, host, app, is_system, first_seen, ended, os, faculty
      FROM sessions
      WHERE first_seen < %(to)s AND ended > %(from)s {who}) s
{directory}
WHERE TRUE {where}

-- name: directory_join
-- The directory matches the account part of the user name: the same person under any domain.
LEFT JOIN directory_members d
    ON d.account = substring(s.user_name FROM '[^\\]*$')
   AND d.valid_from <= s.first_seen
   AND (d.valid_to IS NULL OR s.first_seen < d.valid_to)

-- name: cohort_active
-- Active users per cohort: those with any session in the range (any process, system ones too:
-- any snapshot of theirs lists one).
SELECT cohort, count(*) AS active_users
FROM (SELECT DISTINCT cohort, user_name FROM ({sessions}) c WHERE cohort IS NOT NULL {cohorts}) u
GROUP BY cohort

-- name: cohort_apps
-- Per cohort and app: distinct users and hosts, hours of use within the range and launches
-- (sessions started in it), as top-apps counts them from sessions. {app}: `app`, or one label
-- for the matching apps together.
SELECT cohort, {app} AS app,
       count(DISTINCT user_name) AS users,
       count(DISTINCT host) AS hosts,
       sum(extract(epoch FROM least(ended, %(to)s) - greatest(first_seen, %(from)s))) / 3600.0
           AS hours,
       count(*) FILTER (WHERE first_seen >= %(from)s) AS launches
FROM ({sessions}) c
WHERE cohort IS NOT NULL AND app <> '' {used} {cohorts}
GROUP BY 1, 2

-- name: cohort_in
AND cohort = ANY(%(cohorts)s)

-- name: host_faculty
AND s.faculty = ANY(%(faculty)s)

-- name: user_faculty
AND d.faculty = ANY(%(faculty)s)

-- name: known_faculties
-- The faculties a filter may name: those machines reported and those on the managed list.
SELECT DISTINCT faculty FROM host_days
UNION
SELECT faculty FROM faculties

-- name: known_apps
-- The apps an app= filter may name: every one the rollups hold (a product's id, or an
-- executable's name where the catalog knows none), one index step each (a loose index scan of
-- usage_presence_apps' key), not a scan of its rows; and those of the executables' facts (a
-- file the collector reported, which may not have run in a listing kept).
WITH RECURSIVE seen (app) AS (
    (SELECT app FROM usage_presence_apps ORDER BY app LIMIT 1)
    UNION ALL
    SELECT (SELECT u.app FROM usage_presence_apps u WHERE u.app > seen.app ORDER BY u.app LIMIT 1)
    FROM seen
    WHERE seen.app IS NOT NULL
)
SELECT app FROM seen WHERE app IS NOT NULL
UNION
SELECT DISTINCT app FROM executables

-- name: known_app_users
-- Per app the rollups hold, how many distinct users ever ran it (usage_presence_apps keeps a
-- row per app and user): which apps a caller held to a k-anonymity floor may see named.
SELECT app, count(*)::int AS users FROM usage_presence_apps WHERE dim = 'u' GROUP BY app

-- name: cohort_user_hours
-- Per cohort, each active user's hours of the matching apps within the range (0 for an active
-- user who used none): what hours per active user and its bootstrap interval are taken over.
SELECT cohort, user_name,
       coalesce(sum(extract(epoch FROM least(ended, %(to)s) - greatest(first_seen, %(from)s)))
                FILTER (WHERE app <> '' {used}), 0) / 3600.0 AS hours
FROM ({sessions}) c
WHERE cohort IS NOT NULL {cohorts}
GROUP BY cohort, user_name
