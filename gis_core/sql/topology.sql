-- Topology defects between one hierarchy level ({child}) and its parent level ({parent}).
-- Identifiers are substituted from a fixed list in gis_core/ingest/topology.py; values are bound.
-- gaps: parts of a parent its children do not cover (a parent with no children yet is a level
-- still to be imported, not a gap). Unioning the children is the costly part, so it is done only
-- where a gap may be: the children's areas fall short of the parent's, or two of them overlap
-- (an overlap could hide a gap of its size in the sum).
SELECT 'gap' AS kind, p.code AS parent_code, ARRAY[]::text[] AS codes,
       ST_Area(d.geom::geography) AS area_m2,
       ST_X(ST_PointOnSurface(d.geom)) AS lon, ST_Y(ST_PointOnSurface(d.geom)) AS lat
FROM {parent} p
CROSS JOIN LATERAL (
    SELECT count(*) > 0 AND (
               ST_Area(p.geom::geography) - coalesce(sum(ST_Area(c.geom::geography)), 0) > :tolerance
               OR EXISTS (SELECT 1 FROM {child} a JOIN {child} b ON a.{fk} = p.id AND b.{fk} = p.id
                          AND a.id < b.id AND a.geom && b.geom AND ST_Relate(a.geom, b.geom, '2********'))
           ) AS may_have
    FROM {child} c WHERE c.{fk} = p.id
) k
CROSS JOIN LATERAL (
    SELECT ST_Difference(p.geom, ST_Union(c.geom)) AS g
    FROM {child} c WHERE c.{fk} = p.id AND k.may_have HAVING count(*) > 0
) u
CROSS JOIN LATERAL ST_Dump(ST_CollectionExtract(u.g, 3)) d
WHERE ST_Area(d.geom::geography) > :tolerance
UNION ALL
-- overlaps: siblings whose interiors intersect
SELECT 'overlap', p.code, ARRAY[a.code::text, b.code::text],
       ST_Area(d.geom::geography),
       ST_X(ST_PointOnSurface(d.geom)), ST_Y(ST_PointOnSurface(d.geom))
FROM {child} a
JOIN {child} b ON a.{fk} = b.{fk} AND a.id < b.id AND a.geom && b.geom
JOIN {parent} p ON p.id = a.{fk}
CROSS JOIN LATERAL ST_Dump(ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3)) d
WHERE ST_Relate(a.geom, b.geom, '2********') AND ST_Area(d.geom::geography) > :tolerance
UNION ALL
-- children sticking out of their parent
SELECT 'outside_parent', p.code, ARRAY[c.code::text],
       ST_Area(d.geom::geography),
       ST_X(ST_PointOnSurface(d.geom)), ST_Y(ST_PointOnSurface(d.geom))
FROM {child} c
JOIN {parent} p ON p.id = c.{fk}
CROSS JOIN LATERAL ST_Dump(ST_CollectionExtract(ST_Difference(c.geom, p.geom), 3)) d
WHERE NOT ST_CoveredBy(c.geom, p.geom) AND ST_Area(d.geom::geography) > :tolerance
