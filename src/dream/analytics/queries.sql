-- Named queries and fragments of dream.analytics. Each starts with a "-- name: <name>" line.
-- Values are always bound parameters (%(x)s). The {placeholders} are filled by
-- dream.analytics.queries with other fragments of this file or with column identifiers from a
-- fixed whitelist (psycopg.sql), never with values.
--
-- Rollup rows carry counters twice: over all processes and, prefixed u_, over non-system ones;
-- {p} is "" or "u_" accordingly (include_system).

-- ---------------------------------------------------------------- filter fragments (both sources)
-- name: filter_faculty
AND faculty = %(faculty)s
-- name: filter_os
AND os = %(os)s
-- name: filter_user
AND user_name = %(user)s
-- name: filter_host
AND host = %(host)s
-- name: filter_app
AND app = ANY(%(app)s)
-- name: filter_any_app
-- Rows of every known application (rollup per-app rows; raw rows with an app).
AND app <> ''
-- name: filter_all_apps_row
-- The rollups' snapshot-level total rows.
AND app = ''
-- name: filter_prefix
AND starts_with(lower({dim}), %(q)s)
-- name: filter_not_system
AND NOT is_system

-- ---------------------------------------------------------------- rollup source
-- name: rollup_rows
-- The rollup rows of [from, to): whole UTC days from usage_daily, the hours at either end from
-- usage_hourly (empty ranges when the bounds are whole days, or when no daily rows are wanted).
SELECT * FROM usage_daily
WHERE bucket >= %(day_from)s AND bucket < %(day_to)s {filters}
UNION ALL
SELECT * FROM usage_hourly
WHERE bucket >= %(head_from)s AND bucket < %(head_to)s {filters}
UNION ALL
SELECT * FROM usage_hourly
WHERE bucket >= %(tail_from)s AND bucket < %(tail_to)s {filters}

-- name: rollup_pairs
-- One hash aggregation pass over the rollup rows, per {keys}: the sums (g = 3), and one row per
-- distinct user (g = 1) and per distinct host (g = 2), which the outer query counts. Cheaper
-- than count(DISTINCT ...), which sorts.
-- (d_user, d_host: copies, so that grouping by user or host as a key still works.)
SELECT {keys}, GROUPING(d_user, d_host) AS g,
       sum({p}snapshots) AS snapshots, sum({p}processes) AS processes,
       sum({p}cpu_sum) AS cpu_sum, sum({p}cpu_n) AS cpu_n,
       sum({p}rss_sum) AS rss_sum, sum({p}rss_n) AS rss_n
FROM (SELECT *, user_name AS d_user, host AS d_host FROM ({rows}) r0) r
WHERE {p}snapshots > 0
GROUP BY GROUPING SETS (({group_keys}), ({group_keys}, d_user), ({group_keys}, d_host))

-- name: rollup_metrics
count(*) FILTER (WHERE g = 1) AS users,
count(*) FILTER (WHERE g = 2) AS hosts,
(sum(snapshots) FILTER (WHERE g = 3))::bigint AS snapshots,
(sum(processes) FILTER (WHERE g = 3))::bigint AS processes,
sum(cpu_sum) FILTER (WHERE g = 3) / nullif(sum(cpu_n) FILTER (WHERE g = 3), 0) AS avg_cpu_percent,
(sum(rss_sum) FILTER (WHERE g = 3))::float8
    / nullif(sum(rss_n) FILTER (WHERE g = 3), 0) AS avg_rss_kb

-- ---------------------------------------------------------------- lean rollup source
-- Questions with no user or host filter, per app, os or faculty ({key}): the counters from
-- usage_daily_apps, distinct users and hosts from usage_presence (whole days) and usage_hourly
-- (the hours at either end). Same numbers as rollup_rows, far fewer rows read.

-- name: lean_rows
-- {ts}: the time bucket of a row's `bucket` (or one constant for the whole range). The hours
-- at either end read usage_hourly_apps, whose keys may hold several rows until folded (some
-- negative): lean_answer keeps the sums with use.
SELECT {key} AS key, {ts} AS ts, {p}snapshots AS snapshots, {p}processes AS processes,
       {p}cpu_sum AS cpu_sum, {p}cpu_n AS cpu_n, {p}rss_sum AS rss_sum, {p}rss_n AS rss_n
FROM usage_daily_apps
WHERE bucket >= %(day_from)s AND bucket < %(day_to)s AND {p}snapshots > 0 {filters}
UNION ALL
SELECT {key}, {ts}, {p}snapshots, {p}processes, {p}cpu_sum, {p}cpu_n, {p}rss_sum, {p}rss_n
FROM usage_hourly_apps
WHERE ((bucket >= %(head_from)s AND bucket < %(head_to)s)
       OR (bucket >= %(tail_from)s AND bucket < %(tail_to)s)) {filters}

-- name: lean_people
-- (key, ts, users, hosts): the users (dim 'u') and hosts ('h') seen in [from, to) per key and
-- time bucket: whole days from usage_presence ({presence}), the hours at either end ({hours})
-- from usage_presence_hourly, its days' masks keeping the hours of the range.
SELECT key, ts, count(*) FILTER (WHERE dim = 'u') AS users,
       count(*) FILTER (WHERE dim = 'h') AS hosts
FROM ({presence} UNION {hours}) q
GROUP BY key, ts

-- name: lean_count_hours
-- lean_people for hourly buckets, without a row per user and hour: per key, day and who the
-- hours of the range it was seen in (its rows over OS and faculty OR-ed together), then per
-- key, day and dim how many have each hour's bit set ({counts}: one count per hour of
-- %(bits)s, the hours any day of the range has).
SELECT c.key, c.day + x.bit * interval '1 hour' AS ts,
       coalesce(sum(x.n) FILTER (WHERE c.dim = 'u'), 0) AS users,
       coalesce(sum(x.n) FILTER (WHERE c.dim = 'h'), 0) AS hosts
FROM (
    SELECT key, day, dim, {counts} AS counts
    FROM (
        SELECT {key} AS key, p.day, p.dim,
               bit_or(p.{p}hours & (%(hour_masks)s::integer[])
                                      [array_position(%(hour_days)s::timestamptz[], p.day)])
                   AS bits
        FROM usage_presence_hourly p
        WHERE p.day = ANY(%(hour_days)s::timestamptz[]) {filters}
        GROUP BY 1, 2, 3, p.who
    ) w
    GROUP BY key, day, dim
) c
CROSS JOIN LATERAL unnest(c.counts, %(bits)s::integer[]) x (n, bit)
WHERE x.n > 0
GROUP BY 1, 2

-- name: lean_count_days
-- lean_people for daily buckets, whole days: per key, 64-day block and who the days of the
-- range it was seen on (its rows over OS and faculty OR-ed together), then per key, block and
-- dim how many have each day's bit set ({counts}: one count per bit of %(bits)s, the days'
-- positions in their blocks).
SELECT c.key, (date '1970-01-01' + (c.block * 64 + x.bit))::timestamp AT TIME ZONE 'UTC' AS ts,
       coalesce(sum(x.n) FILTER (WHERE c.dim = 'u'), 0) AS users,
       coalesce(sum(x.n) FILTER (WHERE c.dim = 'h'), 0) AS hosts
FROM (
    SELECT key, block, dim, {counts} AS counts
    FROM (
        SELECT {key} AS key, block, dim,
               bit_or({p}days & (CASE WHEN block = %(block_from)s THEN %(first_mask)s::bigint
                                      ELSE -1 END)
                              & (CASE WHEN block = %(block_to)s THEN %(last_mask)s::bigint
                                      ELSE -1 END)) AS bits
        FROM usage_presence
        WHERE block BETWEEN %(block_from)s AND %(block_to)s {filters}
        GROUP BY 1, 2, 3, who
    ) w
    GROUP BY key, block, dim
) c
CROSS JOIN LATERAL unnest(c.counts, %(bits)s::integer[]) x (n, bit)
WHERE x.n > 0
GROUP BY 1, 2

-- name: lean_count_hour_days
-- lean_people for daily buckets, the days at either end only partly in the range: per key and
-- day, who was seen in its hours of the range (no whole day of the range shares their bucket).
SELECT key, day AS ts, count(*) FILTER (WHERE dim = 'u') AS users,
       count(*) FILTER (WHERE dim = 'h') AS hosts
FROM (
    SELECT DISTINCT {key} AS key, p.day, p.dim, p.who
    FROM usage_presence_hourly p
    WHERE p.day = ANY(%(hour_days)s::timestamptz[]) {filters}
      AND p.{p}hours & (%(hour_masks)s::integer[])
                           [array_position(%(hour_days)s::timestamptz[], p.day)] <> 0
) w
GROUP BY key, day

-- name: lean_hours_any
-- The hours at either end: a row per key and day, ts of the day ({ts}).
SELECT {key} AS key, {ts} AS ts, p.dim, p.who
FROM usage_presence_hourly p
WHERE p.day = ANY(%(hour_days)s::timestamptz[]) {filters}
  AND p.{p}hours & (%(hour_masks)s::integer[])
                       [array_position(%(hour_days)s::timestamptz[], p.day)] <> 0

-- name: lean_presence_range
-- The whole days of the range as one: the masks keep the days of the first and last block that
-- lie inside it (-1: every day).
SELECT {key} AS key, '-infinity'::timestamptz AS ts, dim, who
FROM usage_presence
WHERE block BETWEEN %(block_from)s AND %(block_to)s
  AND {p}days & (CASE WHEN block = %(block_from)s THEN %(first_mask)s::bigint ELSE -1 END)
              & (CASE WHEN block = %(block_to)s THEN %(last_mask)s::bigint ELSE -1 END) <> 0
  {filters}

-- name: presence_apps_seen
-- A usage_presence_apps row has a day of the range: its first and last block's words under
-- their masks (one block: both masks), or any word between them (no bit: NULL).
(coalesce({p}days[%(block_from)s::integer] & %(first_mask)s::bigint
          & (CASE WHEN %(block_from)s::integer = %(block_to)s::integer
                  THEN %(last_mask)s::bigint ELSE -1 END), 0) <> 0
 OR (%(block_to)s::integer > %(block_from)s::integer
     AND coalesce({p}days[%(block_to)s::integer] & %(last_mask)s::bigint, 0) <> 0)
 OR array_remove({p}days[%(block_from)s::integer + 1:%(block_to)s::integer - 1], NULL) <> '{{}}')

-- name: lean_presence_apps
-- lean_presence_range per app, at most one OS or one faculty filtered: {table}, a row per app
-- (and OS or faculty) and who (migration 0021), not one per OS, faculty and block.
SELECT {key} AS key, '-infinity'::timestamptz AS ts, dim, who
FROM {table}
WHERE {seen} {filters}

-- name: lean_count_apps
-- lean_people of a range of whole days per app, at most one OS or one faculty filtered: each
-- who has one row per app in {table}, so its users and hosts are counts of rows.
SELECT {key} AS key, '-infinity'::timestamptz AS ts, count(*) FILTER (WHERE dim = 'u') AS users,
       count(*) FILTER (WHERE dim = 'h') AS hosts
FROM {table}
WHERE {seen} {filters}
GROUP BY 1

-- name: lean_presence_buckets
-- The whole days per time bucket: per bucket and 64-day block, the mask of its days, from the
-- first to the last day of the range with any rollup row.
SELECT {key} AS key, m.ts, p.dim, p.who
FROM (
    SELECT date_trunc(%(bucket)s, d, 'UTC') AS ts, usage_block(d) AS block,
           bit_or(usage_day_bit(d)) AS mask
    FROM (SELECT min(bucket) AS lo, max(bucket) AS hi FROM usage_daily_apps
          WHERE bucket >= %(day_from)s AND bucket < %(day_to)s) s
    CROSS JOIN LATERAL generate_series(s.lo, s.hi, interval '1 day', 'UTC') d
    GROUP BY 1, 2
) m
JOIN usage_presence p ON p.block = m.block
WHERE p.{p}days & m.mask <> 0 {filters}

-- name: lean_answer
-- Per key and time bucket. {order}: e.g. "users DESC"; ties by key, in byte order as the
-- columns' collation is.
WITH sums AS (
    SELECT key, ts, sum(snapshots) AS snapshots, sum(processes) AS processes,
           sum(cpu_sum) AS cpu_sum, sum(cpu_n) AS cpu_n, sum(rss_sum) AS rss_sum,
           sum(rss_n) AS rss_n
    FROM ({rows}) r
    GROUP BY key, ts
    HAVING sum(snapshots) > 0
), people AS (
    {people}
)
SELECT key, ts, users, hosts, snapshots::bigint AS snapshots, processes::bigint AS processes,
       cpu_sum / nullif(cpu_n, 0) AS avg_cpu_percent,
       rss_sum::float8 / nullif(rss_n, 0) AS avg_rss_kb
FROM sums JOIN people USING (key, ts)
ORDER BY {order} NULLS LAST, key, ts
LIMIT %(limit)s

-- name: lean_usage
-- lean_answer per time bucket, as usage answers: {group} is "key" or NULL::text (no group_by).
SELECT {group} AS grp, ts, users, hosts, snapshots, processes, avg_cpu_percent, avg_rss_kb
FROM ({answer}) l

-- name: lean_users
-- lean_people's users alone, per key and time bucket that has any: what the k-anonymity floor
-- counts (usage with users_only). lean_answer's join with the sums drops no bucket of these:
-- a presence bit is set only where the rollups' snapshots are (rollups.sql).
SELECT key, ts, users FROM ({people}) p WHERE users > 0

-- name: lean_usage_users
SELECT {group} AS grp, ts, users FROM ({answer}) l

-- name: top_apps_rollup
SELECT app, {metrics}
FROM ({pairs}) x
GROUP BY app
ORDER BY {order} DESC NULLS LAST, app
LIMIT %(limit)s

-- name: breakdown_rollup
SELECT value, {metrics}
FROM ({pairs}) x
GROUP BY value
ORDER BY {order} NULLS LAST, value
LIMIT %(limit)s

-- name: usage_rollup
SELECT grp, ts, {metrics}
FROM ({pairs}) x
GROUP BY grp, ts
ORDER BY grp, ts

-- ---------------------------------------------------------------- raw source
-- Ties and groups are ordered by byte value (COLLATE "C"), as the rollups' columns are.
-- name: raw_rows
SELECT * FROM processes
WHERE collected_at >= %(from)s AND collected_at < %(to)s {filters}

-- name: raw_metrics
count(DISTINCT user_name) AS users,
count(DISTINCT host) AS hosts,
count(DISTINCT snapshot_id) AS snapshots,
count(*) AS processes,
avg(cpu_percent::float8) AS avg_cpu_percent,
avg(rss_kb)::float8 AS avg_rss_kb

-- name: top_apps_raw
WITH r AS ({rows})
SELECT app, {metrics}
FROM r
GROUP BY app
ORDER BY {order} DESC NULLS LAST, app COLLATE "C"
LIMIT %(limit)s

-- name: breakdown_raw
WITH r AS ({rows})
SELECT {dim} AS value, {metrics}
FROM r
GROUP BY 1
ORDER BY {order} NULLS LAST, {dim} COLLATE "C"
LIMIT %(limit)s

-- name: usage_raw
WITH r AS ({rows})
SELECT {group} AS grp, date_trunc(%(bucket)s, r.collected_at, 'UTC') AS ts, {metrics}
FROM r
GROUP BY 1, 2
ORDER BY {group} COLLATE "C", 2

-- name: apps_rollup
-- Each app under the filters: the first and last UTC day it ran, and in how many snapshots.
SELECT app, date_trunc('day', min(bucket), 'UTC') AS first_seen,
       date_trunc('day', max(bucket), 'UTC') AS last_seen,
       sum({p}snapshots)::bigint AS snapshots
FROM ({rows}) r
WHERE {p}snapshots > 0
GROUP BY app
ORDER BY app
LIMIT %(limit)s

-- name: apps_raw
SELECT app, date_trunc('day', min(collected_at), 'UTC') AS first_seen,
       date_trunc('day', max(collected_at), 'UTC') AS last_seen,
       count(DISTINCT snapshot_id) AS snapshots
FROM ({rows}) r
GROUP BY app
ORDER BY app COLLATE "C"
LIMIT %(limit)s

-- ---------------------------------------------------------------- raw process rows
-- name: processes_page
-- Keyset pagination in (collected_at, snapshot_id, row position) order: snapshots come from
-- their collected_at index, each one's rows by (snapshot_id, collected_at) from its partition.
SELECT s.collected_at, s.snapshot_id, p.ctid::text AS row_id, s.host, s.os,
       s.user_name AS "user", s.faculty, p.pid, p.ppid, p.process_user, p.name, p.command, p.app,
       p.is_system, p.cpu_percent, p.mem_percent, p.rss_kb, p.vsz_kb, p.state, p.tty, p.started,
       p.cpu_seconds, p.threads, p.session, p.session_name, p.status, p.window_title, p.version
FROM (
    SELECT snapshot_id, collected_at, host, os, user_name, faculty
    FROM snapshots
    WHERE status = 'stored' AND collected_at >= %(from)s AND collected_at < %(to)s
      AND (collected_at, snapshot_id) >= (%(after_at)s, %(after_id)s) {snapshot_filters}
    ORDER BY collected_at, snapshot_id
) s
CROSS JOIN LATERAL (
    SELECT ctid, * FROM processes
    WHERE snapshot_id = s.snapshot_id AND collected_at = s.collected_at {process_filters}
) p
WHERE (s.collected_at, s.snapshot_id, p.ctid) > (%(after_at)s, %(after_id)s, %(after_row)s::tid)
ORDER BY s.collected_at, s.snapshot_id, p.ctid
LIMIT %(limit)s

-- ---------------------------------------------------------------- hours of use and launches
-- From sessions (storage migration 0007): a session is in use over [first_seen, last_seen +
-- cadence_s) and launched at first_seen. Whole UTC days read usage_hours_daily; the hours at
-- either end of the range (or every hour, for hourly buckets) read the sessions overlapping
-- them, each cut at the days (hours) it covers and clipped to the range, so any range and
-- bucket gives the same seconds as the daily rollup would.

-- name: hours_days
-- {keys}: the key columns, given {t}, the time of the piece (here the day). {table}:
-- usage_hours_daily, or its sums over users and hosts (usage_hours_daily_apps) when neither
-- a key nor a filter names a user or a host.
SELECT {keys}, {p}seconds AS seconds, {p}launches AS launches
FROM {table}
WHERE bucket >= %(day_from)s AND bucket < %(day_to)s AND {p}seconds > 0 {filters}

-- name: hours_hours
-- Whole hours [{a}, {b}) per app from usage_hours_hourly (a key may hold several rows, some
-- negative, until folded: with_hours sums them, so no row is left out here).
SELECT {keys}, {p}seconds AS seconds, {p}launches AS launches
FROM usage_hours_hourly
WHERE bucket >= {a} AND bucket < {b} {filters}

-- name: hours_sessions
-- The sessions' use within [{a}, {b}), cut into pieces an hour long for hourly buckets, else
-- a day long (in UTC, days are 24 hours long): {t} is the piece's start.
SELECT {keys},
       date_part('epoch', least(s.ended, {b}, piece + %(piece)s::interval)
                          - greatest(s.first_seen, {a}, piece)) AS seconds,
       (s.first_seen >= greatest({a}, piece)
        AND s.first_seen < least({b}, piece + %(piece)s::interval))::int AS launches
FROM (
    SELECT * FROM sessions WHERE first_seen < {b} AND ended > {a} {filters} {system}
) s
CROSS JOIN LATERAL generate_series(date_trunc(%(piece_unit)s, greatest(s.first_seen, {a}), 'UTC'),
                                   least(s.ended, {b}) - interval '1 microsecond',
                                   %(piece)s::interval) piece

-- name: with_hours
-- {answer}: a question's metrics per key, unlimited; beside it the sessions' seconds and
-- launches per key ({hours}). Every key either side has is an item (a key with use but no
-- stored process row, its raw rows expired, has zero counts).
WITH m AS ({answer}),
h AS (SELECT {key_list}, sum(seconds) AS seconds, sum(launches) AS launches
      FROM ({hours}) x GROUP BY {key_list} HAVING sum(seconds) > 0 OR sum(launches) > 0)
SELECT * FROM (
    SELECT {keys}, coalesce(m.users, 0) AS users, coalesce(m.hosts, 0) AS hosts,
           coalesce(m.snapshots, 0) AS snapshots, coalesce(m.processes, 0) AS processes,
           m.avg_cpu_percent, m.avg_rss_kb,
           coalesce(h.seconds, 0) / 3600 AS hours, coalesce(h.launches, 0) AS launches
    FROM m FULL JOIN h ON {join}
) r
ORDER BY {order}
LIMIT %(outer_limit)s

-- ---------------------------------------------------------------- sessions
-- name: sessions_page
-- The sessions in use within [from, to), in (first_seen, host, user, pid, name) order: the
-- primary key's columns, first_seen leading (sessions_first_seen_idx).
SELECT host, user_name AS "user", app, version, pid, name, os, faculty, first_seen AS started,
       ended, extract(epoch FROM last_seen - first_seen) + cadence_s AS duration_s,
       samples, cpu_last - cpu_first AS cpu_seconds
FROM sessions
WHERE first_seen < %(to)s AND ended > %(from)s {filters}
ORDER BY first_seen, host, user_name, pid, name
LIMIT %(limit)s

-- name: sessions_after
AND (first_seen, host, user_name, pid, name)
    > (%(after_at)s, %(after_host)s, %(after_user)s, %(after_pid)s, %(after_name)s)

-- name: concurrency
-- Users and hosts running under the filters at the same instant, per bucket. A session is in
-- use over [first_seen, last_seen + cadence_s), clipped to the range. A user (host) runs while
-- any of its sessions does: the running count of its own sessions going 0 -> n starts its use,
-- n -> 0 ends it, so a user on two hosts at once counts once. Summed over users, these give
-- the users running at each instant; every bucket start is an instant too, so each stretch of
-- constant count lies in one bucket. Per bucket: the peak, and the time-weighted 95th
-- percentile (the smallest count c such that the count is <= c for >= 95% of the bucket's time
-- within the range).
WITH s AS (
    SELECT user_name, host, greatest(first_seen, %(from)s) AS a, least(ended, %(to)s) AS b
    FROM sessions
    WHERE first_seen < %(to)s AND ended > %(from)s {filters}
), own AS (
    SELECT kind, who, t, sum(d) AS d
    FROM (SELECT 'u' AS kind, user_name AS who, a AS t, 1 AS d FROM s
          UNION ALL SELECT 'u', user_name, b, -1 FROM s
          UNION ALL SELECT 'h', host, a, 1 FROM s
          UNION ALL SELECT 'h', host, b, -1 FROM s) e
    GROUP BY kind, who, t
), running AS (
    SELECT kind, t, d, sum(d) OVER (PARTITION BY kind, who ORDER BY t) AS n FROM own
), step AS (
    SELECT ('1 ' || %(bucket)s)::interval AS size, min(a) AS lo, max(b) AS hi FROM s
), edges AS (
    SELECT kind, t, CASE WHEN n > 0 AND n = d THEN 1 WHEN n = 0 AND d < 0 THEN -1 ELSE 0 END AS d
    FROM running
    UNION ALL
    SELECT kind, least(greatest(edge, %(from)s), %(to)s), 0
    FROM step
    CROSS JOIN generate_series(date_trunc(%(bucket)s, lo, 'UTC') AT TIME ZONE 'UTC',
                               (date_trunc(%(bucket)s, hi - interval '1 microsecond', 'UTC')
                                AT TIME ZONE 'UTC') + size,
                               size) g (local)
    CROSS JOIN LATERAL (SELECT local AT TIME ZONE 'UTC' AS edge) e
    CROSS JOIN (VALUES ('u'), ('h')) k (kind)
), counts AS (
    SELECT kind, t, sum(sum(d)) OVER (PARTITION BY kind ORDER BY t) AS n
    FROM edges
    GROUP BY kind, t
), stretches AS (
    SELECT kind, date_trunc(%(bucket)s, t, 'UTC') AS bucket, n,
           sum(date_part('epoch', lead_t - t)) AS seconds
    FROM (SELECT *, lead(t) OVER (PARTITION BY kind ORDER BY t) AS lead_t FROM counts) c
    WHERE lead_t > t
    GROUP BY 1, 2, 3
), weighed AS (
    SELECT *, sum(seconds) OVER (PARTITION BY kind, bucket ORDER BY n) AS below,
           sum(seconds) OVER (PARTITION BY kind, bucket) AS total
    FROM stretches
)
SELECT bucket, max(n) FILTER (WHERE kind = 'u')::int AS peak_users,
       max(n) FILTER (WHERE kind = 'h')::int AS peak_hosts,
       min(n) FILTER (WHERE kind = 'u' AND below >= 0.95 * total)::int AS p95_users
FROM weighed
GROUP BY bucket
ORDER BY bucket

-- name: concurrency_timeline
-- concurrency's answer for one app (%(app)s), non-system sessions, [from, to) on whole hours,
-- from the maintained timeline (migration 0016): per hour with use the peaks and how long each
-- count (>= 1) of users ran; the days marked dirty computed from their spans instead. A
-- bucket's peak is its hours' largest; its time with no user running is the rest of its time
-- within the range; the 95th percentile is the smallest count c with 20 * (time at <= c) >=
-- 19 * (its time), in microseconds (exact). Buckets from the first to the last with use.
-- With the floor (%(floor)s, else NULL), ``users``: each bucket's distinct users (migration
-- 0022's people: its busiest hour's where that reaches the floor, else their union).
WITH dirty AS (
    SELECT DISTINCT day FROM concurrency_dirty
    WHERE app = %(app)s AND day >= date_trunc('day', %(from)s::timestamptz, 'UTC')
      AND day < %(to)s
), hours AS (
    SELECT hour, peak_users, peak_hosts, users, micros,
           CASE WHEN %(floor)s::int IS NOT NULL THEN people END AS people
    FROM concurrency_hourly
    WHERE app = %(app)s AND hour >= %(from)s AND hour < %(to)s
      AND date_trunc('day', hour, 'UTC') NOT IN (SELECT day FROM dirty)
    UNION ALL
    SELECT c.hour, c.peak_users, c.peak_hosts, c.users, c.micros, c.people
    FROM dirty d
    CROSS JOIN LATERAL concurrency_day(%(app)s, d.day) c
    WHERE c.hour >= %(from)s AND c.hour < %(to)s
), buckets AS (
    SELECT b AS bucket,
           extract(epoch FROM least(date_add(b, s.size, 'UTC'), %(to)s) - greatest(b, %(from)s))
               * 1000000
               AS total
    FROM (SELECT ('1 ' || %(bucket)s)::interval AS size,
                 date_trunc(%(bucket)s, min(hour), 'UTC') AS lo,
                 date_trunc(%(bucket)s, max(hour), 'UTC') AS hi
          FROM hours) s
    CROSS JOIN LATERAL generate_series(s.lo, s.hi, s.size, 'UTC') b
), used AS (
    SELECT date_trunc(%(bucket)s, h.hour, 'UTC') AS bucket, max(h.peak_users) AS peak_users,
           max(h.peak_hosts) AS peak_hosts
    FROM hours h
    GROUP BY 1
), counts AS (
    SELECT date_trunc(%(bucket)s, h.hour, 'UTC') AS bucket, u.n, sum(u.micros) AS micros
    FROM hours h
    CROSS JOIN LATERAL unnest(h.users, h.micros) u (n, micros)
    GROUP BY 1, 2
), weighed AS (
    SELECT c.bucket, c.n, b.total, sum(c.micros) OVER (PARTITION BY c.bucket ORDER BY c.n) AS below
    FROM (SELECT * FROM counts
          UNION ALL
          SELECT b.bucket, 0, b.total - coalesce(sum(c.micros), 0)
          FROM buckets b LEFT JOIN counts c USING (bucket)
          GROUP BY b.bucket, b.total) c
    JOIN buckets b USING (bucket)
), busiest AS (
    SELECT date_trunc(%(bucket)s, hour, 'UTC') AS bucket, max(cardinality(people)) AS most
    FROM hours
    WHERE %(floor)s::int IS NOT NULL
    GROUP BY 1
), present AS (
    SELECT b.bucket,
           CASE WHEN b.most >= %(floor)s OR %(bucket)s = 'hour' THEN b.most
                ELSE (SELECT count(DISTINCT p) FROM hours h CROSS JOIN LATERAL unnest(h.people) p
                      WHERE date_trunc(%(bucket)s, h.hour, 'UTC') = b.bucket) END AS users
    FROM busiest b
)
SELECT w.bucket, coalesce(max(u.peak_users), 0)::int AS peak_users,
       coalesce(max(u.peak_hosts), 0)::int AS peak_hosts,
       min(w.n) FILTER (WHERE 20 * w.below >= 19 * w.total)::int AS p95_users,
       CASE WHEN %(floor)s::int IS NOT NULL THEN coalesce(max(p.users), 0)::int END AS users
FROM weighed w
LEFT JOIN used u USING (bucket)
LEFT JOIN present p USING (bucket)
GROUP BY w.bucket
ORDER BY w.bucket

-- ---------------------------------------------------------------- coverage
-- name: coverage
-- The hosts that reported (a stored or failed snapshot) in [from, to) under the filters naming
-- who and where, and the median of their cadences. A host's cadence is the mean interval_s of
-- its snapshots that declare one, else the mean gap between its snapshots in the range ((last
-- - first) / (snapshots - 1)), else the deployment's default. Whole UTC days read host_days (a
-- row per host and day), the hours at either end ({partial}) the snapshots themselves.
WITH pieces AS (
    {whole}
    UNION ALL
    SELECT host, count(*) AS n, min(collected_at) AS first_at, max(collected_at) AS last_at,
           coalesce(sum(interval_s), 0) AS declared_sum, count(interval_s) AS declared_n
    FROM snapshots
    WHERE status <> 'pending' AND {partial} {filters}
    GROUP BY host
), hosts AS (
    SELECT CASE WHEN sum(declared_n) > 0 THEN sum(declared_sum) / sum(declared_n)
                WHEN sum(n) > 1 THEN date_part('epoch', max(last_at) - min(first_at)) / (sum(n) - 1)
                ELSE %(default_cadence_s)s END AS cadence
    FROM pieces
    GROUP BY host
)
SELECT count(*) AS hosts, percentile_cont(0.5) WITHIN GROUP (ORDER BY cadence) AS median_cadence_s
FROM hosts

-- name: coverage_days
SELECT host, snapshots AS n, first_at, last_at, declared_sum, declared_n
FROM host_days
WHERE bucket >= %(day_from)s AND bucket < %(day_to)s {filters}

-- name: coverage_no_days
SELECT NULL::text AS host, 0::bigint AS n, NULL::timestamptz AS first_at,
       NULL::timestamptz AS last_at, 0::float8 AS declared_sum, 0::bigint AS declared_n
WHERE false

-- name: coverage_ends
((collected_at >= %(head_from)s AND collected_at < %(head_to)s)
 OR (collected_at >= %(tail_from)s AND collected_at < %(tail_to)s))

-- name: coverage_range
collected_at >= %(from)s AND collected_at < %(to)s

-- name: coverage_users_faculty
-- cohort=user: the snapshot's user was of one of the faculties in the directory when it was
-- collected (the account part of the name, as cohorts.sql's directory_join matches it).
AND EXISTS (SELECT 1 FROM directory_members d
            WHERE d.account = substring(snapshots.user_name FROM '[^\\]*$')
              AND d.valid_from <= snapshots.collected_at
              AND (d.valid_to IS NULL OR snapshots.collected_at < d.valid_to)
              AND d.faculty = ANY(%(faculty)s))
