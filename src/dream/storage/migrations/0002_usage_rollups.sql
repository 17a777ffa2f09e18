-- Usage rollups: what analytics read instead of raw process rows (see dream/analytics/).
--
-- One row per (time bucket, app, os, faculty, user, host): user and host stay dimensions so
-- distinct users and hosts are exact from the rollups. The writer maintains both tables in the
-- transaction that stores the snapshot's process rows, only for snapshots that transaction made
-- final, so a replayed message counts nothing twice. Failed snapshots contribute nothing.
--
-- app = '' is the snapshot-level total row: "any application", so counts of snapshots, users
-- or hosts by faculty/os/user/host need not add up per-app rows (which would double count).
-- Processes whose app is unknown (NULL or '') are left out of analytics altogether.
--
-- Each counter comes twice: over all processes, and u_* over non-system processes only
-- (include_system=false, the default). snapshots = number of snapshots in which the app
-- appeared; cpu_sum / cpu_n and rss_sum / rss_n give averages over the processes that reported
-- a value. Dimensions use the "C" collation: grouping and DISTINCT then compare bytes.
CREATE TABLE usage_hourly (
    bucket       timestamptz      NOT NULL,  -- the hour (UTC) the snapshots were collected in
    app          text COLLATE "C" NOT NULL,
    os           text COLLATE "C" NOT NULL,
    faculty      text COLLATE "C" NOT NULL,
    user_name    text COLLATE "C" NOT NULL,
    host         text COLLATE "C" NOT NULL,
    snapshots    integer          NOT NULL,
    processes    integer          NOT NULL,
    cpu_sum      double precision NOT NULL,
    cpu_n        integer          NOT NULL,
    rss_sum      bigint           NOT NULL,
    rss_n        integer          NOT NULL,
    u_snapshots  integer          NOT NULL,
    u_processes  integer          NOT NULL,
    u_cpu_sum    double precision NOT NULL,
    u_cpu_n      integer          NOT NULL,
    u_rss_sum    bigint           NOT NULL,
    u_rss_n      integer          NOT NULL,
    PRIMARY KEY (bucket, app, os, faculty, user_name, host)
);

-- The same per UTC day: what queries read for the whole days of a time range.
CREATE TABLE usage_daily (LIKE usage_hourly INCLUDING ALL);

-- "matlab over this term": one app across many days. (The hourly table, read only for the
-- hours at either end of a range, makes do with its primary key: cheaper to write.)
CREATE INDEX usage_daily_app_idx ON usage_daily (app, bucket);

-- Backfill from the process rows stored before this migration (none on a new deployment).
INSERT INTO usage_hourly
SELECT date_trunc('hour', collected_at, 'UTC'), coalesce(app, ''), os, faculty, user_name, host,
       count(DISTINCT snapshot_id), count(*),
       coalesce(sum(cpu_percent::float8), 0), count(cpu_percent),
       coalesce(sum(rss_kb), 0)::bigint, count(rss_kb),
       count(DISTINCT snapshot_id) FILTER (WHERE NOT is_system),
       count(*) FILTER (WHERE NOT is_system),
       coalesce(sum(cpu_percent::float8) FILTER (WHERE NOT is_system), 0),
       count(cpu_percent) FILTER (WHERE NOT is_system),
       coalesce(sum(rss_kb) FILTER (WHERE NOT is_system), 0)::bigint,
       count(rss_kb) FILTER (WHERE NOT is_system)
FROM processes
WHERE app <> ''
GROUP BY date_trunc('hour', collected_at, 'UTC'), os, faculty, user_name, host,
         GROUPING SETS ((app), ());

INSERT INTO usage_daily
SELECT date_trunc('day', bucket, 'UTC'), app, os, faculty, user_name, host,
       sum(snapshots), sum(processes), sum(cpu_sum), sum(cpu_n), sum(rss_sum), sum(rss_n),
       sum(u_snapshots), sum(u_processes), sum(u_cpu_sum), sum(u_cpu_n), sum(u_rss_sum),
       sum(u_rss_n)
FROM usage_hourly
GROUP BY 1, 2, 3, 4, 5, 6;
