-- The write path's cost per observation (docs/capacity.md, "End to end").
--
-- `ended` (migration 0009) is set by the sessions_ended trigger for every writer. The worker now
-- writes it itself (last_seen + cadence_s, computed as the trigger does), so the trigger's
-- function runs only where the row does not already hold that value: a fixture, a reprocess or
-- any other writer still gets it set, the worker skips a PL/pgSQL call per row it writes.
DROP TRIGGER sessions_ended ON sessions;
CREATE TRIGGER sessions_ended BEFORE INSERT OR UPDATE OF last_seen, cadence_s, ended ON sessions
    FOR EACH ROW
    WHEN (NEW.ended IS DISTINCT FROM NEW.last_seen + NEW.cadence_s * interval '1 second')
    EXECUTE FUNCTION sessions_set_ended();

-- Room on each page for the next version of its rows. A running session is rewritten by every
-- batch that observes it; with free space on its page the new version stays there (and, for
-- the rollups' counters, whose indexed columns never change, the update is HOT: no index entry
-- written). Applies to pages written from now on.
ALTER TABLE sessions SET (fillfactor = 80);
ALTER TABLE usage_hours_daily SET (fillfactor = 70);
ALTER TABLE usage_hours_daily_apps SET (fillfactor = 70);
ALTER TABLE host_days SET (fillfactor = 70);
ALTER TABLE usage_hourly SET (fillfactor = 70);
ALTER TABLE usage_daily SET (fillfactor = 70);
ALTER TABLE usage_daily_apps SET (fillfactor = 70);
ALTER TABLE usage_presence SET (fillfactor = 70);
