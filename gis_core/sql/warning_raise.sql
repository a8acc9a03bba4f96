-- Raise a warning per new cause, and raise the level of one whose cause worsened (never lower
-- it); the partial unique index on (rule, cause_key) makes it once per cause.
INSERT INTO warning AS w (rule, cause_key, subject_type, subject_id, level, message, raised_at, geom)
SELECT :rule, c.key, c.subject_type, c.subject_id, c.level, c.message, :now, ST_GeomFromWKB(c.wkb, 4326)
FROM unnest(CAST(:keys AS text[]), CAST(:types AS text[]), CAST(:ids AS bigint[]),
            CAST(:levels AS text[]), CAST(:messages AS text[]), CAST(:wkbs AS bytea[]))
     AS c(key, subject_type, subject_id, level, message, wkb)
ON CONFLICT (rule, cause_key) WHERE state <> 'cleared'
DO UPDATE SET level = EXCLUDED.level, message = EXCLUDED.message
    WHERE array_position(CAST(:order AS text[]), EXCLUDED.level)
        > array_position(CAST(:order AS text[]), w.level)
RETURNING w.id, (xmax = 0) AS raised
