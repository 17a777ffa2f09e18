-- Distinct users and hosts of each app over a range of whole days, for questions naming at most
-- one OS or one faculty (and no user or host): one row per (app, user or host), not one per
-- (64-day block, app, os, faculty, user or host) deduplicated by hashing (~150,000 rows for a
-- month of every app at 2,000 hosts, two blocks of them).
--
-- usage_presence_apps: usage_presence OR-ed over OS and faculty, its blocks as the subscripts
-- of one array per (app, dim, who): days[b] (u_days[b]) is the OR of usage_presence.days
-- (u_days) of block b over the key's OS and faculties, NULL when none is set; the arrays'
-- bounds are the key's first and last block. Whether a key was seen in a range is a test on
-- its own row, so the count of a range is a count of rows. usage_presence_app_os and
-- usage_presence_app_faculty: the same per (app, os, dim, who) and (app, faculty, dim, who),
-- for questions naming one OS or one faculty.
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
CREATE TABLE usage_presence_app_os (
    app     text COLLATE "C" NOT NULL,
    os      text COLLATE "C" NOT NULL,
    dim     "char"           NOT NULL CHECK (dim IN ('u', 'h')),
    who     text COLLATE "C" NOT NULL,
    days    bigint[]         NOT NULL,
    u_days  bigint[]         NOT NULL,
    PRIMARY KEY (app, os, dim, who)
);
CREATE TABLE usage_presence_app_faculty (
    app      text COLLATE "C" NOT NULL,
    faculty  text COLLATE "C" NOT NULL,
    dim      "char"           NOT NULL CHECK (dim IN ('u', 'h')),
    who      text COLLATE "C" NOT NULL,
    days     bigint[]         NOT NULL,
    u_days   bigint[]         NOT NULL,
    PRIMARY KEY (app, faculty, dim, who)
);

-- The three tables and their keys' columns (each table's primary key).
CREATE FUNCTION usage_presence_apps_tables() RETURNS TABLE (tab text, keys text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    VALUES ('usage_presence_apps', 'app, dim, who'),
           ('usage_presence_app_os', 'app, os, dim, who'),
           ('usage_presence_app_faculty', 'app, faculty, dim, who');
END;

-- Bits set by a statement are OR-ed in, a block at a time (an upsert changes a row once);
-- keys in order, so writers of overlapping keys lock them in one order. Blocks of keys whose
-- bits went are recomputed from usage_presence, and keys left with no bit deleted.
CREATE FUNCTION usage_presence_apps_keep() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    b integer;
    t record;
    -- The (block, app, os, faculty, dim, who) whose bits went: rows deleted, or updated to
    -- fewer bits.
    lost text := CASE TG_OP
        WHEN 'DELETE' THEN 'SELECT block, app, os, faculty, dim, who FROM old_rows
                            WHERE days <> 0 OR u_days <> 0'
        ELSE 'SELECT o.block, o.app, o.os, o.faculty, o.dim, o.who
              FROM old_rows o
              LEFT JOIN new_rows n
                ON (n.block, n.app, n.os, n.faculty, n.dim, n.who)
                   = (o.block, o.app, o.os, o.faculty, o.dim, o.who)
              WHERE o.days & ~coalesce(n.days, 0) <> 0
                 OR o.u_days & ~coalesce(n.u_days, 0) <> 0' END;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM usage_presence_apps;
        DELETE FROM usage_presence_app_os;
        DELETE FROM usage_presence_app_faculty;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        FOR b IN SELECT DISTINCT block FROM new_rows ORDER BY 1 LOOP
            FOR t IN SELECT * FROM usage_presence_apps_tables() LOOP
                EXECUTE format($q$
                    INSERT INTO %1$I AS r
                    SELECT %2$s, array_fill(nullif(bit_or(days), 0), ARRAY[1], ARRAY[$1]),
                           array_fill(nullif(bit_or(u_days), 0), ARRAY[1], ARRAY[$1])
                    FROM new_rows
                    WHERE block = $1 AND days <> 0
                    GROUP BY %2$s
                    ORDER BY %2$s
                    ON CONFLICT (%2$s) DO UPDATE SET
                        days[$1] = nullif(coalesce(r.days[$1], 0)
                                          | coalesce(EXCLUDED.days[$1], 0), 0),
                        u_days[$1] = nullif(coalesce(r.u_days[$1], 0)
                                            | coalesce(EXCLUDED.u_days[$1], 0), 0)
                    -- Usually the bits are there already (another OS or faculty of the key):
                    -- no new row version.
                    WHERE coalesce(EXCLUDED.days[$1], 0) & ~coalesce(r.days[$1], 0) <> 0
                       OR coalesce(EXCLUDED.u_days[$1], 0) & ~coalesce(r.u_days[$1], 0) <> 0
                $q$, t.tab, t.keys) USING b;
            END LOOP;
        END LOOP;
    END IF;
    IF TG_OP = 'INSERT' THEN
        RETURN NULL;  -- nothing went
    END IF;
    IF NOT EXISTS (SELECT FROM old_rows) THEN
        RETURN NULL;  -- most statements: an upsert that changed nothing
    END IF;
    FOR t IN SELECT tab, keys, regexp_replace(keys, '(\w+)', 'l.\1', 'g') AS l,
                    regexp_replace(keys, '(\w+)', 'p.\1', 'g') AS p,
                    regexp_replace(keys, '(\w+)', 'r.\1', 'g') AS r,
                    regexp_replace(keys, '(\w+)', 'k.\1', 'g') AS k
             FROM usage_presence_apps_tables() LOOP
        FOR b IN EXECUTE format('SELECT DISTINCT block FROM (%s) l ORDER BY 1', lost) LOOP
            EXECUTE format($q$
                UPDATE %1$I r SET days[$1] = k.days, u_days[$1] = k.u_days
                FROM (SELECT %2$s, nullif(coalesce(bit_or(p.days), 0), 0) AS days,
                             nullif(coalesce(bit_or(p.u_days), 0), 0) AS u_days
                      FROM (SELECT DISTINCT %3$s FROM (%4$s) l WHERE block = $1) l
                      LEFT JOIN usage_presence p ON p.block = $1 AND (%5$s) = (%2$s)
                      GROUP BY %2$s
                      ORDER BY %2$s) k
                WHERE (%6$s) = (%7$s)
            $q$, t.tab, t.l, t.keys, lost, t.p, t.r, t.k) USING b;
        END LOOP;
        EXECUTE format($q$
            DELETE FROM %1$I r
            USING (SELECT DISTINCT %2$s FROM (%3$s) l) l
            WHERE (%4$s) = (%5$s)
              AND array_remove(r.days, NULL) = '{}' AND array_remove(r.u_days, NULL) = '{}'
        $q$, t.tab, t.keys, lost, t.r, t.l);
    END LOOP;
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

-- Backfill, set-based, a table at a time: per key, its blocks' words from its first to its
-- last block (NULL where none), as an array literal with those bounds.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT tab, keys, regexp_replace(keys, '(\w+)', 'k.\1', 'g') AS k,
                    regexp_replace(keys, '(\w+)', 'w.\1', 'g') AS w
             FROM usage_presence_apps_tables() LOOP
        EXECUTE format($q$
            INSERT INTO %1$I
            WITH words AS (
                SELECT %2$s, block, nullif(bit_or(days), 0) AS days,
                       nullif(bit_or(u_days), 0) AS u_days
                FROM usage_presence
                GROUP BY %2$s, block
            ), keys AS (
                SELECT %2$s, min(block) AS lo, max(block) AS hi
                FROM words
                WHERE days IS NOT NULL
                GROUP BY %2$s
            )
            SELECT %3$s,
                   ('[' || k.lo || ':' || k.hi || ']=' || array_agg(w.days ORDER BY g)::text)::bigint[],
                   ('[' || k.lo || ':' || k.hi || ']=' || array_agg(w.u_days ORDER BY g)::text)::bigint[]
            FROM keys k
            CROSS JOIN LATERAL generate_series(k.lo, k.hi) g
            LEFT JOIN words w ON (%4$s, w.block) = (%3$s, g)
            GROUP BY %3$s, k.lo, k.hi
            ORDER BY %3$s
        $q$, t.tab, t.keys, t.k, t.w);
    END LOOP;
END
$$;
