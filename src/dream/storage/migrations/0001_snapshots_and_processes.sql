-- Snapshots: one row per posted listing, with its raw output (the source of truth) and status.
CREATE TABLE snapshots (
    snapshot_id    uuid PRIMARY KEY,
    host           text        NOT NULL,
    os             text        NOT NULL CHECK (os IN ('linux', 'windows', 'macos')),
    os_version     text,
    user_name      text        NOT NULL,
    faculty        text        NOT NULL,
    collected_at   timestamptz NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    command        text,
    raw_output     text,
    status         text        NOT NULL DEFAULT 'pending'
                               CHECK (status IN ('pending', 'stored', 'failed')),
    format         text,
    process_count  integer,
    warnings       jsonb       NOT NULL DEFAULT '[]'::jsonb,
    error          text,
    stored_at      timestamptz
);

CREATE INDEX snapshots_pending_idx ON snapshots (received_at) WHERE status = 'pending';
CREATE INDEX snapshots_collected_idx ON snapshots (collected_at);
CREATE INDEX snapshots_failed_idx ON snapshots (received_at) WHERE status = 'failed';

-- Processes: one row per process of a stored snapshot. The snapshot's host, os, user, faculty and
-- collected_at are copied onto each row so analytics never join; partitioned by month of
-- collected_at so old raw rows can be dropped a partition at a time.
CREATE TABLE processes (
    snapshot_id    uuid        NOT NULL,
    collected_at   timestamptz NOT NULL,
    host           text        NOT NULL,
    os             text        NOT NULL,
    user_name      text        NOT NULL,
    faculty        text        NOT NULL,
    pid            integer,
    ppid           integer,
    process_user   text,
    name           text,
    command        text,
    app            text,
    is_system      boolean     NOT NULL,
    cpu_percent    real,
    mem_percent    real,
    rss_kb         bigint,
    vsz_kb         bigint,
    state          text,
    tty            text,
    started        text,
    cpu_seconds    double precision,
    threads        integer,
    session        integer,
    session_name   text,
    status         text,
    window_title   text
) PARTITION BY RANGE (collected_at);

CREATE INDEX processes_snapshot_idx ON processes (snapshot_id);
CREATE INDEX processes_app_time_idx ON processes (app, collected_at);
CREATE INDEX processes_faculty_os_time_idx ON processes (faculty, os, collected_at);
CREATE INDEX processes_time_brin ON processes USING brin (collected_at);

-- Monthly partitions are created on demand by the writer (see storage/partitions.py).
