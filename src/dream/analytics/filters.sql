-- The filters as SQL, beside queries.sql's one-value ones (filter_faculty, ...).

-- name: filter_one_of
-- A filter given several values (faculty=law&faculty=engineering): any of them.
AND {column} = ANY({values})
