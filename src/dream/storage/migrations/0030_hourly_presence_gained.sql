-- The write path's cost per listing at production's batch shape (docs/capacity.md, "End to
-- end": a batch holds about one listing per host). Each listing's counters update its host's
-- rows of the hour in usage_hourly, and migration 0011's trigger then rewrote the presence
-- bits (usage_presence_hourly) of every row the statement touched: a DELETE and an INSERT of two
-- presence rows per usage_hourly row, though a row that had use already has its hour's bits.
-- Now only the rows whose use the statement turned on set bits: every inserted row, and an
-- updated one that had no use (or no non-system use) before. At 20 listings of 300 processes
-- a batch, the upsert of their ~600 rows took ~45 ms, ~36 of them in this trigger.
--
-- The old and new rows of an UPDATE are paired by grouping them on the key (hashed), not by a
-- join of the transition tables, which the planner ran as a nested loop (~37 ms of it at 600
-- rows). An UPDATE that moves a row to another key (by hand; Dream's writers never do) now
-- takes its old key's hours back and sets its new key's (the join matched a moved row with
-- nothing, so it was in neither set).
CREATE OR REPLACE FUNCTION usage_hourly_apps_keep() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    -- The statement's rows, signed: +1 in, -1 out.
    changed text := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT 1 AS sign, * FROM new_rows'
        WHEN 'DELETE' THEN 'SELECT -1 AS sign, * FROM old_rows'
        ELSE 'SELECT 1 AS sign, * FROM new_rows UNION ALL SELECT -1, * FROM old_rows' END;
    -- An UPDATE's rows per key, the old side beside the new, by grouping (hashed): a join of
    -- the two transition tables was planned as a nested loop, ~37 ms at 600 rows a side.
    paired text := 'SELECT bucket, app, os, faculty, user_name, host,
                           max(o_s) AS o_s, max(o_u) AS o_u, max(n_s) AS n_s, max(n_u) AS n_u
                    FROM (SELECT bucket, app, os, faculty, user_name, host, snapshots AS o_s,
                                 u_snapshots AS o_u, NULL::bigint AS n_s, NULL::bigint AS n_u
                          FROM old_rows
                          UNION ALL
                          SELECT bucket, app, os, faculty, user_name, host, NULL, NULL,
                                 snapshots, u_snapshots
                          FROM new_rows) t
                    GROUP BY 1, 2, 3, 4, 5, 6';
    -- Rows that lost their use (or their non-system use), a row moved to another key too:
    -- their keys' presence is recomputed.
    lost text := CASE TG_OP
        WHEN 'DELETE' THEN 'SELECT * FROM old_rows'
        ELSE format('SELECT * FROM (%s) p
                     WHERE (p.o_s > 0 AND coalesce(p.n_s, 0) <= 0)
                        OR (p.o_u > 0 AND coalesce(p.n_u, 0) <= 0)', paired) END;
    -- Rows whose use the statement turned on (every inserted one; of an UPDATE's, one without
    -- use, or without non-system use, before, a row moved in too): only their hours can set a
    -- bit. The others' bits are set already.
    gained text := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT * FROM new_rows'
        ELSE format('SELECT bucket, app, os, faculty, user_name, host, n_s AS snapshots,
                            n_u AS u_snapshots
                     FROM (%s) p
                     WHERE (p.n_s > 0 AND coalesce(p.o_s, 0) <= 0)
                        OR (p.n_u > 0 AND coalesce(p.o_u, 0) <= 0)', paired) END;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM usage_hourly_apps;
        DELETE FROM usage_presence_hourly;
        RETURN NULL;
    END IF;
    EXECUTE format($q$
        WITH c AS (%s), delta AS (
            SELECT bucket, app, os, faculty,
                   sum(sign * snapshots) AS snapshots, sum(sign * processes) AS processes,
                   sum(sign * cpu_sum) AS cpu_sum, sum(sign * cpu_n) AS cpu_n,
                   sum(sign * rss_sum) AS rss_sum, sum(sign * rss_n) AS rss_n,
                   sum(sign * u_snapshots) AS u_snapshots, sum(sign * u_processes) AS u_processes,
                   sum(sign * u_cpu_sum) AS u_cpu_sum, sum(sign * u_cpu_n) AS u_cpu_n,
                   sum(sign * u_rss_sum) AS u_rss_sum, sum(sign * u_rss_n) AS u_rss_n
            FROM c
            GROUP BY 1, 2, 3, 4
        ), folded AS (
            DELETE FROM usage_hourly_apps u
            WHERE u.ctid = ANY (ARRAY(
                SELECT x.ctid FROM usage_hourly_apps x
                JOIN delta d
                  ON (d.bucket, d.app, d.os, d.faculty) = (x.bucket, x.app, x.os, x.faculty)
                FOR UPDATE OF x SKIP LOCKED))
            RETURNING u.*
        )
        INSERT INTO usage_hourly_apps
        SELECT bucket, app, os, faculty, sum(snapshots), sum(processes), sum(cpu_sum),
               sum(cpu_n), sum(rss_sum), sum(rss_n), sum(u_snapshots), sum(u_processes),
               sum(u_cpu_sum), sum(u_cpu_n), sum(u_rss_sum), sum(u_rss_n)
        FROM (SELECT * FROM delta UNION ALL SELECT * FROM folded) t
        GROUP BY 1, 2, 3, 4
        HAVING sum(snapshots) <> 0 OR sum(processes) <> 0 OR sum(u_snapshots) <> 0
            OR sum(u_processes) <> 0
        ORDER BY 1, 2, 3, 4
    $q$, changed);
    IF TG_OP <> 'DELETE' THEN
        EXECUTE format($q$
        WITH bits AS (
            SELECT date_trunc('day', n.bucket, 'UTC') AS day, n.app, n.os, n.faculty, w.dim,
                   w.who, bit_or(usage_hour_bit(n.bucket)) AS hours,
                   coalesce(bit_or(usage_hour_bit(n.bucket)) FILTER (WHERE n.u_snapshots > 0),
                            0) AS u_hours
            FROM (%s) n
            CROSS JOIN LATERAL (VALUES ('u'::"char", n.user_name), ('h'::"char", n.host))
                w (dim, who)
            WHERE n.snapshots > 0
            GROUP BY 1, 2, 3, 4, 5, 6
        ), folded AS (
            DELETE FROM usage_presence_hourly u
            WHERE u.ctid = ANY (ARRAY(
                SELECT x.ctid FROM usage_presence_hourly x
                JOIN bits b ON (b.day, b.app, b.os, b.faculty, b.dim, b.who)
                               = (x.day, x.app, x.os, x.faculty, x.dim, x.who)
                FOR UPDATE OF x SKIP LOCKED))
            RETURNING u.*
        )
        INSERT INTO usage_presence_hourly
        SELECT day, app, os, faculty, dim, who, bit_or(hours), bit_or(u_hours)
        FROM (SELECT * FROM bits UNION ALL SELECT * FROM folded) t
        GROUP BY 1, 2, 3, 4, 5, 6
        ORDER BY 1, 2, 3, 4, 5, 6
        $q$, gained);
    END IF;
    IF TG_OP = 'INSERT' THEN
        RETURN NULL;  -- nothing lost
    END IF;
    EXECUTE format($q$
        WITH lost AS (
            SELECT DISTINCT date_trunc('day', o.bucket, 'UTC') AS day, o.app, o.os, o.faculty,
                   w.dim, w.who
            FROM (%s) o
            CROSS JOIN LATERAL (VALUES ('u'::"char", o.user_name), ('h'::"char", o.host))
                w (dim, who)
        ), gone AS (
            DELETE FROM usage_presence_hourly p
            USING lost l
            WHERE (p.day, p.app, p.os, p.faculty, p.dim, p.who)
                  = (l.day, l.app, l.os, l.faculty, l.dim, l.who)
        )
        INSERT INTO usage_presence_hourly
        SELECT l.day, l.app, l.os, l.faculty, l.dim, l.who,
               bit_or(usage_hour_bit(h.bucket)),
               coalesce(bit_or(usage_hour_bit(h.bucket)) FILTER (WHERE h.u_snapshots > 0), 0)
        FROM lost l
        JOIN usage_hourly h
          ON h.bucket >= l.day AND h.bucket < l.day + interval '1 day'
         AND (h.app, h.os, h.faculty) = (l.app, l.os, l.faculty)
         AND (CASE l.dim WHEN 'u' THEN h.user_name ELSE h.host END) = l.who
        WHERE h.snapshots > 0
        GROUP BY 1, 2, 3, 4, 5, 6
    $q$, lost);
    RETURN NULL;
END
$$;
