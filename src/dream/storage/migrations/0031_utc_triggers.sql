-- The rollups' trigger functions run in UTC whatever the time zone of the session that fires them.
--
-- They add days to UTC midnights ('1 day', generate_series by '1 day'), which PostgreSQL does in
-- the session's time zone: from a session in a zone with summer time (a server whose `timezone`
-- is Europe/Zurich, a DBA's psql), a day is 23 or 25 hours on the days the clocks change, and a
-- session across one went to a bucket an hour off UTC midnight (usage_versions_daily) or lost an
-- hour's bit (usage_presence_hourly). Pinning TimeZone per function keeps the functions' text
-- as it is. CREATE OR REPLACE takes a function's settings from its new text: a later migration
-- that restates one says `SET TimeZone = 'UTC'` again (tests/analytics/test_time_zone.py checks
-- every trigger function).
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure
        FROM pg_proc p
        WHERE p.pronamespace = current_schema()::regnamespace
          AND p.prorettype = 'trigger'::regtype
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET TimeZone = %L', f, 'UTC');
    END LOOP;
END
$$;
