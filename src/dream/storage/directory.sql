-- The user directory and the managed list of faculties (migration 0019).

-- name: faculty_add
INSERT INTO faculties (faculty, name) VALUES (%(faculty)s, %(name)s)
ON CONFLICT (faculty) DO UPDATE SET name = EXCLUDED.name WHERE EXCLUDED.name <> ''

-- name: alias_add
INSERT INTO faculty_aliases (alias, faculty) VALUES (%(alias)s, %(faculty)s)
ON CONFLICT (alias) DO UPDATE SET faculty = EXCLUDED.faculty

-- name: faculty_names
-- Every name a faculty may be given as, and the faculty it means.
SELECT faculty AS name, faculty FROM faculties
UNION ALL
SELECT alias, faculty FROM faculty_aliases

-- name: faculties_list
SELECT f.faculty, f.name, coalesce(array_agg(a.alias ORDER BY a.alias)
                                   FILTER (WHERE a.alias IS NOT NULL), '{}') AS aliases
FROM faculties f LEFT JOIN faculty_aliases a USING (faculty)
GROUP BY f.faculty, f.name
ORDER BY f.faculty

-- name: incoming_create
CREATE TEMPORARY TABLE incoming (
    account text COLLATE "C" PRIMARY KEY, faculty text COLLATE "C" NOT NULL,
    programme text COLLATE "C" NOT NULL, role text COLLATE "C" NOT NULL, year smallint
) ON COMMIT DROP

-- name: incoming_copy
COPY incoming (account, faculty, programme, role, year) FROM STDIN

-- name: members_close_changed
-- A user whose faculty, programme, role or year changed: the open membership ends now.
UPDATE directory_members m SET valid_to = %(as_of)s
FROM incoming i
WHERE m.account = i.account AND m.valid_to IS NULL
  AND (m.faculty, m.programme, m.role, m.year) IS DISTINCT FROM
      (i.faculty, i.programme, i.role, i.year)

-- name: members_close_absent
-- A full import: a user no longer listed has left; their open membership ends now.
UPDATE directory_members m SET valid_to = %(as_of)s
WHERE m.valid_to IS NULL AND NOT EXISTS (SELECT 1 FROM incoming i WHERE i.account = m.account)

-- name: members_open
-- A membership for each listed user without an open one: from now, or, for a user the
-- directory never knew, from the beginning (their earlier use is best attributed to it).
INSERT INTO directory_members (account, faculty, programme, role, year, valid_from)
SELECT i.account, i.faculty, i.programme, i.role, i.year,
       CASE WHEN EXISTS (SELECT 1 FROM directory_members p WHERE p.account = i.account)
            THEN %(as_of)s ELSE '-infinity' END
FROM incoming i
WHERE NOT EXISTS (SELECT 1 FROM directory_members m
                  WHERE m.account = i.account AND m.valid_to IS NULL)

-- name: members_latest
-- The latest start of an open membership: an import must come after it.
SELECT max(valid_from) AS latest FROM directory_members
WHERE valid_to IS NULL AND valid_from > '-infinity'
