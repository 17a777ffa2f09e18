-- The write path's cost per running session (docs/capacity.md, "End to end").
--
-- A running session gets a new version in every batch that observes it. PostgreSQL writes that
-- version without touching any index (a HOT update, on the same page: fillfactor 80, migration
-- 0012) only when no indexed column changes. `ended` moves with every extension, so its two
-- indexes made each of those updates insert an entry into every index of the table. Readers
-- find sessions overlapping a window through first_seen (sessions_first_seen_idx,
-- sessions_app_time_idx: `first_seen < to`, `ended > from` checked on the rows found).
DROP INDEX IF EXISTS sessions_ended_idx;
DROP INDEX IF EXISTS sessions_app_ended_idx;

-- Each host's version of its sessions: a new one (from a sequence: never given twice) for every
-- statement that inserts, updates or deletes any of its sessions, whoever runs it. A worker
-- keeps the open sessions of the hosts it writes in memory (storage/open_sessions.py) and uses
-- them only while the host's version is the one it read after its own last write: a write by
-- another worker (after a rebalance), a reprocess or plain SQL sends it back to the table.
CREATE SEQUENCE session_host_versions;
CREATE TABLE session_hosts (
    host     text COLLATE "C" PRIMARY KEY,
    version  bigint NOT NULL
);
INSERT INTO session_hosts
SELECT host, nextval('session_host_versions') FROM (SELECT DISTINCT host FROM sessions) h;

CREATE FUNCTION session_hosts_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE session_hosts SET version = nextval('session_host_versions');
        RETURN NULL;
    END IF;
    -- Hosts in key order: writers of overlapping hosts take these row locks in one order.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO session_hosts
        SELECT host, nextval('session_host_versions')
        FROM (SELECT DISTINCT host FROM new_rows ORDER BY 1) h
        ON CONFLICT (host) DO UPDATE SET version = EXCLUDED.version;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO session_hosts
        SELECT host, nextval('session_host_versions')
        FROM (SELECT DISTINCT host FROM old_rows ORDER BY 1) h
        ON CONFLICT (host) DO UPDATE SET version = EXCLUDED.version;
    ELSE
        INSERT INTO session_hosts
        SELECT host, nextval('session_host_versions')
        FROM (SELECT host FROM new_rows UNION SELECT host FROM old_rows ORDER BY 1) h
        ON CONFLICT (host) DO UPDATE SET version = EXCLUDED.version;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_hosts_insert AFTER INSERT ON sessions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION session_hosts_bump();
CREATE TRIGGER sessions_hosts_delete AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION session_hosts_bump();
CREATE TRIGGER sessions_hosts_update AFTER UPDATE ON sessions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION session_hosts_bump();
CREATE TRIGGER sessions_hosts_truncate AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION session_hosts_bump();
