-- Executables' facts (a snapshot's optional `executables`): one row per file a host ran, by
-- (host, path, sha256) — a file updated in place is a new row, its old version keeps its own.
-- is_system is decided when written (dream.storage.executables: signer or package first, path
-- second); users are the snapshots' users that saw it (kept distinct, pseudonymized as stored).
CREATE TABLE executables (
    host        text        NOT NULL,
    path        text        NOT NULL,
    sha256      text        NOT NULL CONSTRAINT executables_sha256_check CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    os          text        NOT NULL,
    app         text        NOT NULL,  -- named as the parsers name a process's app (apps.py)
    faculty     text        NOT NULL,
    size_bytes  bigint      NOT NULL CONSTRAINT executables_size_check CHECK (size_bytes >= 0),
    signer      text,
    is_system   boolean     NOT NULL,
    users       text[]      NOT NULL DEFAULT '{}',
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    PRIMARY KEY (host, path, sha256)
);
-- The question filters by os/faculty and a seen range: a file's first and last sighting.
CREATE INDEX executables_os_seen ON executables (os, last_seen, first_seen);

-- The direct pipeline's pending row carries a snapshot's executables to the worker (as it
-- carries raw_output); the worker clears it once they are written above.
ALTER TABLE snapshots ADD COLUMN executables jsonb;
