-- The write path's cost per running session (docs/capacity.md, "End to end").
--
-- usage_hours_hourly (migration 0011) is kept by statement triggers on sessions: each statement
-- joins its old and new rows and cuts every changed session into hours, the largest share of
-- PostgreSQL's work per batch. The worker's writer already has each session's old and new end
-- at hand (storage/hours.py HoursDelta): it adds the same changes itself, in the same
-- transaction, and says so for the statements it runs with the transaction-local setting
-- `dream.hours_hourly_by` = 'writer', under which these triggers do not fire. Every other
-- writer (a reprocess, a fixture, plain SQL) leaves the setting unset and the triggers keep the
-- table as before: it always equals the sum over the sessions (tests/analytics). TRUNCATE
-- keeps its trigger unconditionally.
DROP TRIGGER sessions_hours_hourly_insert ON sessions;
DROP TRIGGER sessions_hours_hourly_delete ON sessions;
DROP TRIGGER sessions_hours_hourly_update ON sessions;

CREATE TRIGGER sessions_hours_hourly_insert AFTER INSERT ON sessions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT
    WHEN (current_setting('dream.hours_hourly_by', true) IS DISTINCT FROM 'writer')
    EXECUTE FUNCTION usage_hours_hourly_keep();
CREATE TRIGGER sessions_hours_hourly_delete AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT
    WHEN (current_setting('dream.hours_hourly_by', true) IS DISTINCT FROM 'writer')
    EXECUTE FUNCTION usage_hours_hourly_keep();
CREATE TRIGGER sessions_hours_hourly_update AFTER UPDATE ON sessions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT
    WHEN (current_setting('dream.hours_hourly_by', true) IS DISTINCT FROM 'writer')
    EXECUTE FUNCTION usage_hours_hourly_keep();
