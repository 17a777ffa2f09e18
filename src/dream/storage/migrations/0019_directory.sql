-- The user directory: who belongs to which cohort, and since when, so that analytics can
-- attribute use by the user's faculty (`cohort=user`: "law students on any machine") as well as
-- by the machine's (`cohort=host`, the collector's --faculty). docs/analytics.md, "Cohorts".

-- The managed list of faculties, and the other spellings that mean one of them. Once the list
-- holds a faculty, the directory import refuses a faculty neither in it nor an alias of one.
CREATE TABLE faculties (
    faculty  text COLLATE "C" PRIMARY KEY,          -- as stored and asked for: lowercase
    name     text NOT NULL DEFAULT ''               -- how people write it ("Faculty of Law")
);
CREATE TABLE faculty_aliases (
    alias    text COLLATE "C" PRIMARY KEY,          -- lowercase ("law school", "jur")
    faculty  text COLLATE "C" NOT NULL REFERENCES faculties ON DELETE CASCADE
);

-- One row per membership: the user (pseudonymized with the ingest key, account part only, so
-- the same person under any domain) belonged to this faculty, programme, role and year over
-- [valid_from, valid_to). A re-import that changes a user's row closes the open one at the
-- import's instant and opens another; a user absent from a full import has theirs closed.
CREATE TABLE directory_members (
    account     text COLLATE "C" NOT NULL,
    faculty     text COLLATE "C" NOT NULL REFERENCES faculties ON UPDATE CASCADE,
    programme   text COLLATE "C" NOT NULL DEFAULT '',
    role        text COLLATE "C" NOT NULL CHECK (role IN ('student', 'staff')),
    year        smallint CHECK (year BETWEEN 1 AND 20),
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz,                      -- null: current
    PRIMARY KEY (account, valid_from),
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
-- At most one open membership per user.
CREATE UNIQUE INDEX directory_members_open ON directory_members (account) WHERE valid_to IS NULL;
