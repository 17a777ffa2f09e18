-- Process sessions: what researchers ask about is use (hours, launches, seats in use at once),
-- not samples. One row per process instance of a host, built from the snapshots it was seen
-- in, whatever their cadence or arrival order (see docs/analytics.md, "Sessions and hours").
--
-- An observation is one process in one snapshot; it covers [collected_at, collected_at +
-- cadence_s), the host's sampling interval (the snapshot's `interval_s`, else the deployment's
-- default). Observations of one key (host, user_name, pid, name) whose gaps are at most 1.5
-- cadences (of the earlier observation; see open_until) form one session, so the same hour of
-- use is one session of ~1 hour at a 1-minute or a 10-minute cadence, and a process absent
-- for more than a sampling interval (or a machine off overnight) ends it. The set of sessions
-- is a function of the set of snapshots only: merging observations is commutative, so late
-- and replayed snapshots give the same rows.
--
-- A session is in use over [first_seen, last_seen + cadence_s): its seconds of use are
-- extract(epoch FROM last_seen - first_seen) + cadence_s, within one sampling interval of the
-- truth. Counters follow usage_hourly's conventions: user_name is the snapshot's user (who was
-- logged on), app the parser's application name, is_system the parser's flag.
CREATE TABLE sessions (
    host          text COLLATE "C" NOT NULL,
    user_name     text COLLATE "C" NOT NULL,
    pid           integer          NOT NULL,   -- -1 when the listing gives none
    name          text COLLATE "C" NOT NULL,   -- the process name as listed ('' when none)
    first_seen    timestamptz      NOT NULL,
    last_seen     timestamptz      NOT NULL,
    cadence_s     real             NOT NULL CHECK (cadence_s > 0),  -- of the last observation
    -- The session takes in an observation of its key collected up to this instant: the furthest
    -- t + 1.5 * cadence of its observations (not always the last one's, if the cadence changed).
    -- Kept so that merging does not depend on the order observations arrive in.
    open_until    timestamptz      NOT NULL,
    os            text COLLATE "C" NOT NULL,
    faculty       text COLLATE "C" NOT NULL,
    app           text COLLATE "C" NOT NULL,
    is_system     boolean          NOT NULL,
    process_user  text,
    samples       integer          NOT NULL CHECK (samples > 0),
    cpu_first     double precision,  -- cumulative CPU seconds (TIME column) at first_seen
    cpu_last      double precision,  -- ... at last_seen: cpu_last - cpu_first was used in between
    rss_peak_kb   bigint,
    PRIMARY KEY (host, user_name, pid, name, first_seen),
    CHECK (last_seen >= first_seen),
    CHECK (open_until > last_seen)
);

-- "sessions of an app in a window", concurrency, the sessions list.
CREATE INDEX sessions_app_time_idx ON sessions (app, first_seen);
CREATE INDEX sessions_first_seen_idx ON sessions (first_seen);
-- The writer finds the sessions of a key that may take in the observations it merges by the
-- primary key (a key has few sessions), not by an index on open_until: every extension of a
-- session changes open_until, and an index on it would be rewritten each time.

-- Seconds of use and launches per UTC day, from sessions: what top-apps, usage and breakdown
-- read for metric=hours and metric=launches over whole days. A session's seconds are split
-- over the days its [first_seen, last_seen + cadence_s) covers; its launch counts on the day
-- of first_seen. Kept by the writer in the transaction that changes the sessions (it takes a
-- replaced session's contribution out and adds the merged one's), so it always equals the
-- sum over sessions. u_* counts non-system sessions only, as in usage_hourly; a session with
-- no app (app = '') counts in no row, as a process without app counts in no usage rollup.
-- Seconds are kept in multiples of 1/1024 s, so the sums are exact in double precision.
CREATE TABLE usage_hours_daily (
    bucket      timestamptz      NOT NULL,  -- the UTC day
    app         text COLLATE "C" NOT NULL,
    os          text COLLATE "C" NOT NULL,
    faculty     text COLLATE "C" NOT NULL,
    user_name   text COLLATE "C" NOT NULL,
    host        text COLLATE "C" NOT NULL,
    seconds     double precision NOT NULL,
    launches    integer          NOT NULL,
    u_seconds   double precision NOT NULL,
    u_launches  integer          NOT NULL,
    PRIMARY KEY (bucket, app, os, faculty, user_name, host)
);
CREATE INDEX usage_hours_daily_app_idx ON usage_hours_daily (app, bucket);

-- The sampling interval the collector declared (seconds), for sessions and for coverage.
ALTER TABLE snapshots ADD COLUMN interval_s real;
-- A host's snapshots in a time range: a reprocess rebuilding its sessions; coverage.
CREATE INDEX snapshots_host_collected_idx ON snapshots (host, collected_at);
