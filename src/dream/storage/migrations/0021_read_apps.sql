-- Distinct users and hosts of each app over a range of whole days, for questions naming no OS,
-- faculty, user or host (top-apps without filters): one row per (app, user or host), not one
-- per (64-day block, app, os, faculty, user or host) deduplicated by hashing (~150,000 rows
-- for a month of every app at 2,000 hosts, two blocks of them).
--
-- usage_presence_apps: usage_presence OR-ed over OS and faculty, its blocks as the subscripts
-- of one array per (app, dim, who): days[b] (u_days[b]) is the OR of usage_presence.days
-- (u_days) of block b over the key's OS and faculties, NULL when none is set; the arrays'
-- bounds are the key's first and last block. Whether a key was seen in a range is a test on
-- its own row, so the count of a range is a count of rows.
--
-- Kept by statement triggers on usage_presence, whoever writes it (the writer sets bits only
-- when they are new, so most statements change nothing here; a reprocess and an erasure
-- rebuild theirs): bits set are OR-ed in, keys in order; a block whose bits went (a row
-- updated to fewer bits, or deleted) is recomputed from usage_presence, and a key left with
-- no bit is deleted (an erased user's name does not stay here).
SET LOCAL work_mem = '256MB';

CREATE TABLE usage_presence_apps (
    app     text COLLATE "C" NOT NULL,
    dim     "char"           NOT NULL CHECK (dim IN ('u', 'h')),
    who     text COLLATE "C" NOT NULL,
    days    bigint[]         NOT NULL,
    u_days  bigint[]         NOT NULL,
    PRIMARY KEY (app, dim, who)
);

-- Bits set by a statement are OR-ed in, a block at a time (an upsert changes a row once);
-- keys in order, so writers of overlapping keys lock them in one order. Blocks of keys whose
-- bits went are recomputed from usage_presence, and keys left with no bit deleted.
CREATE FUNCTION usage_presence_apps_keep() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    b integer;
    -- The (block, app, dim, who) whose bits went: rows deleted, or updated to fewer bits.
    lost text := CASE TG_OP
        WHEN 'DELETE' THEN 'SELECT block, app, dim, who FROM old_rows
                            WHERE days <> 0 OR u_days <> 0'
        ELSE 'SELECT o.block, o.app, o.dim, o.who
              FROM old_rows o
              LEFT JOIN new_rows n
                ON (n.block, n.app, n.os, n.faculty, n.dim, n.who)
                   = (o.block, o.app, o.os, o.faculty, o.dim, o.who)
              WHERE o.days & ~coalesce(n.days, 0) <> 0
                 OR o.u_days & ~coalesce(n.u_days, 0) <> 0' END;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM usage_presence_apps;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        FOR b IN SELECT DISTINCT block FROM new_rows ORDER BY 1 LOOP
            INSERT INTO usage_presence_apps AS r
            SELECT app, dim, who, array_fill(nullif(bit_or(days), 0), ARRAY[1], ARRAY[b]),
                   array_fill(nullif(bit_or(u_days), 0), ARRAY[1], ARRAY[b])
            FROM new_rows
            WHERE block = b AND days <> 0
            GROUP BY app, dim, who
            ORDER BY app, dim, who
            ON CONFLICT (app, dim, who) DO UPDATE SET
                days[b] = nullif(coalesce(r.days[b], 0) | coalesce(EXCLUDED.days[b], 0), 0),
                u_days[b] = nullif(coalesce(r.u_days[b], 0) | coalesce(EXCLUDED.u_days[b], 0), 0)
            -- Usually the bits are there already (another OS or faculty of the key): no new
            -- row version.
            WHERE coalesce(EXCLUDED.days[b], 0) & ~coalesce(r.days[b], 0) <> 0
               OR coalesce(EXCLUDED.u_days[b], 0) & ~coalesce(r.u_days[b], 0) <> 0;
        END LOOP;
    END IF;
    IF TG_OP = 'INSERT' THEN
        RETURN NULL;  -- nothing went
    END IF;
    IF NOT EXISTS (SELECT FROM old_rows) THEN
        RETURN NULL;  -- most statements: an upsert that changed nothing
    END IF;
    FOR b IN EXECUTE format('SELECT DISTINCT block FROM (%s) l ORDER BY 1', lost) LOOP
        EXECUTE format($q$
            UPDATE usage_presence_apps r SET days[$1] = k.days, u_days[$1] = k.u_days
            FROM (SELECT l.app, l.dim, l.who, nullif(coalesce(bit_or(p.days), 0), 0) AS days,
                         nullif(coalesce(bit_or(p.u_days), 0), 0) AS u_days
                  FROM (SELECT DISTINCT app, dim, who FROM (%s) l WHERE block = $1) l
                  LEFT JOIN usage_presence p
                    ON (p.block, p.app, p.dim, p.who) = ($1, l.app, l.dim, l.who)
                  GROUP BY 1, 2, 3
                  ORDER BY 1, 2, 3) k
            WHERE (r.app, r.dim, r.who) = (k.app, k.dim, k.who)
        $q$, lost) USING b;
    END LOOP;
    EXECUTE format($q$
        DELETE FROM usage_presence_apps r
        USING (SELECT DISTINCT app, dim, who FROM (%s) l) l
        WHERE (r.app, r.dim, r.who) = (l.app, l.dim, l.who)
          AND array_remove(r.days, NULL) = '{}' AND array_remove(r.u_days, NULL) = '{}'
    $q$, lost);
    RETURN NULL;
END
$$;

CREATE TRIGGER usage_presence_apps_insert AFTER INSERT ON usage_presence
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_presence_apps_keep();
CREATE TRIGGER usage_presence_apps_delete AFTER DELETE ON usage_presence
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_presence_apps_keep();
CREATE TRIGGER usage_presence_apps_update AFTER UPDATE ON usage_presence
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_presence_apps_keep();
CREATE TRIGGER usage_presence_apps_truncate AFTER TRUNCATE ON usage_presence
    FOR EACH STATEMENT EXECUTE FUNCTION usage_presence_apps_keep();

-- Backfill, set-based: per key, its blocks' words from its first to its last block (NULL
-- where none), as an array literal with those bounds.
INSERT INTO usage_presence_apps
WITH words AS (
    SELECT app, dim, who, block, nullif(bit_or(days), 0) AS days,
           nullif(bit_or(u_days), 0) AS u_days
    FROM usage_presence
    GROUP BY 1, 2, 3, 4
), keys AS (
    SELECT app, dim, who, min(block) AS lo, max(block) AS hi
    FROM words
    WHERE days IS NOT NULL
    GROUP BY 1, 2, 3
)
SELECT k.app, k.dim, k.who,
       (format('[%s:%s]=', k.lo, k.hi) || array_agg(w.days ORDER BY g)::text)::bigint[],
       (format('[%s:%s]=', k.lo, k.hi) || array_agg(w.u_days ORDER BY g)::text)::bigint[]
FROM keys k
CROSS JOIN LATERAL generate_series(k.lo, k.hi) g
LEFT JOIN words w ON (w.app, w.dim, w.who, w.block) = (k.app, k.dim, k.who, g)
GROUP BY k.app, k.dim, k.who, k.lo, k.hi
ORDER BY 1, 2, 3;
