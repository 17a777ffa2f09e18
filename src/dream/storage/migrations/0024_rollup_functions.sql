-- The apps' rollups (usage_daily_apps, usage_hourly_apps, usage_hours_daily_apps) recomputed
-- for a set of their keys. Each is the sum over users and hosts of the table it is named after:
-- every column but the key (bucket, app, os, faculty) is the sum of the summed table's column of
-- that name. usage_apps_rebuild says so once, for any of them, reading the columns from the
-- catalog; an erasure calls it for the keys the erased user touched (dream/storage/erasure.sql).
--
-- The keys are four arrays of one length; a key given twice counts once; a key with no row left
-- in the summed table has none in the rollup afterwards. The keys' rows are deleted, then summed
-- again from the summed table: exact, not a float subtraction.
--
-- The writers do not call it: they add deltas (dream/storage/rollups.sql, sessions.sql, and
-- migration 0011's statement triggers, which fold a statement's signed rows and skip the rows a
-- concurrent writer holds). A recompute there would read every user's rows of each key a batch
-- touches, and would wait on the rows that folding skips.

CREATE FUNCTION usage_apps_rebuild(rollup regclass, summed regclass, buckets timestamptz[],
                                   apps text[], oses text[], faculties text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    counters text;
    sums text;
BEGIN
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum),
           string_agg(format('sum(s.%I)', attname), ', ' ORDER BY attnum)
    INTO counters, sums
    FROM pg_attribute
    WHERE attrelid = rollup AND attnum > 0 AND NOT attisdropped
      AND attname NOT IN ('bucket', 'app', 'os', 'faculty');
    EXECUTE format($q$
        DELETE FROM %s r
        USING unnest($1, $2, $3, $4) k (bucket, app, os, faculty)
        WHERE (r.bucket, r.app, r.os, r.faculty) = (k.bucket, k.app, k.os, k.faculty)
    $q$, rollup) USING buckets, apps, oses, faculties;
    EXECUTE format($q$
        INSERT INTO %s (bucket, app, os, faculty, %s)
        SELECT s.bucket, s.app, s.os, s.faculty, %s
        FROM %s s
        JOIN (SELECT DISTINCT * FROM unnest($1, $2, $3, $4) u (bucket, app, os, faculty)) k
          ON (s.bucket, s.app, s.os, s.faculty) = (k.bucket, k.app, k.os, k.faculty)
        GROUP BY 1, 2, 3, 4
    $q$, rollup, counters, sums, summed) USING buckets, apps, oses, faculties;
END
$$;
