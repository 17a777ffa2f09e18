-- API keys: only a SHA-256 of each secret is kept (secrets are 256 random bits, so a fast hash
-- is enough; the secret itself is shown once, at creation).
CREATE TABLE api_keys (
    key_id        text        PRIMARY KEY,
    name          text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('ingest', 'query', 'admin')),
    secret_sha256 text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz
);
