-- Two rollups for questions that filter on neither a user nor a host (the common ones: "top
-- apps this month", "which faculties use MATLAB"). usage_daily keeps a row per user and host, so
-- a month of it is ~300k rows at 300 hosts, and counting distinct users and hosts over them
-- took ~300 ms. These two answer the same from a few thousand and a few tens of thousands.
--
-- usage_daily_apps: usage_daily summed over users and hosts (same counters, same meaning).
--
-- usage_presence: who ran an app on which days, as a bitmap. A row per 64-day block, app, os,
-- faculty and who (dim 'u': a user, 'h': a host); bit i of `days` is set when day
-- 64 * block + i (days since 1970-01-01, UTC) has a usage_daily row for that key with
-- snapshots > 0 (u_days: u_snapshots > 0). Distinct users over any run of whole days are then a
-- `days & mask <> 0` test on one row per (app, os, faculty, user) and block, however long the
-- run. Derived from usage_daily: the writer ORs bits in, in the transaction that adds the
-- counters; a reprocess, which can also clear bits, recomputes the keys it touched.

-- The bucket's UTC day as days since 1970-01-01, its 64-day block and its bit in the block
-- (floor division in integers: days before 1970 land in negative blocks, bits stay 0-63).
CREATE FUNCTION usage_day(bucket timestamptz) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (bucket AT TIME ZONE 'UTC')::date - DATE '1970-01-01';

CREATE FUNCTION usage_block(bucket timestamptz) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (usage_day(bucket) - (usage_day(bucket) % 64 + 64) % 64) / 64;

CREATE FUNCTION usage_day_bit(bucket timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 1::bigint << ((usage_day(bucket) % 64 + 64) % 64);

CREATE TABLE usage_daily_apps (LIKE usage_daily);
ALTER TABLE usage_daily_apps DROP COLUMN user_name, DROP COLUMN host,
    ADD PRIMARY KEY (bucket, app, os, faculty);

CREATE TABLE usage_presence (
    block   integer          NOT NULL,
    app     text COLLATE "C" NOT NULL,
    os      text COLLATE "C" NOT NULL,
    faculty text COLLATE "C" NOT NULL,
    dim     "char"           NOT NULL CHECK (dim IN ('u', 'h')),
    who     text COLLATE "C" NOT NULL,
    days    bigint           NOT NULL,
    u_days  bigint           NOT NULL,
    PRIMARY KEY (block, app, os, faculty, dim, who)
);

-- Backfill from the rollups already stored (none on a new deployment).
INSERT INTO usage_daily_apps
SELECT bucket, app, os, faculty,
       sum(snapshots), sum(processes), sum(cpu_sum), sum(cpu_n), sum(rss_sum), sum(rss_n),
       sum(u_snapshots), sum(u_processes), sum(u_cpu_sum), sum(u_cpu_n), sum(u_rss_sum),
       sum(u_rss_n)
FROM usage_daily
GROUP BY 1, 2, 3, 4;

INSERT INTO usage_presence
SELECT usage_block(d.bucket), d.app, d.os, d.faculty, w.dim, w.who,
       coalesce(bit_or(usage_day_bit(d.bucket)) FILTER (WHERE d.snapshots > 0), 0),
       coalesce(bit_or(usage_day_bit(d.bucket)) FILTER (WHERE d.u_snapshots > 0), 0)
FROM usage_daily d
CROSS JOIN LATERAL (VALUES ('u'::"char", d.user_name), ('h'::"char", d.host)) w (dim, who)
WHERE d.snapshots > 0
GROUP BY 1, 2, 3, 4, 5, 6;
