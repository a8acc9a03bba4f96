-- Topology defects between one hierarchy level ({child}) and its parent level ({parent}).
-- Identifiers are substituted from a fixed list in gis_core/ingest/topology.py; values are bound.
-- gaps: parts of a parent its children do not cover (a parent with no children yet is a level
-- still to be imported, not a gap)
SELECT 'gap' AS kind, p.code AS parent_code, ARRAY[]::text[] AS codes,
       ST_Area(d.geom::geography) AS area_m2,
       ST_X(ST_PointOnSurface(d.geom)) AS lon, ST_Y(ST_PointOnSurface(d.geom)) AS lat
FROM {parent} p
CROSS JOIN LATERAL (
    SELECT ST_Difference(p.geom, ST_Union(c.geom)) AS g
    FROM {child} c WHERE c.{fk} = p.id HAVING count(*) > 0
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
