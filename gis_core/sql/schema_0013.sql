-- The open-incidents layer draws open incidents only, but the geometry index held every
-- incident ever reported: a district-wide tile took 24,000 closed incidents from the index
-- and filtered them out to draw 142 open ones (9.8 ms; 16 ms as the request role, whose
-- policy is checked on every row the index hands over). This index holds the open ones only.
-- Its condition is the layer's (layers/incidents_open.py) word for word, so that the planner
-- can prove a tile's rows are all in it; a test checks that tiles use it.
CREATE INDEX incident_open_geom_gist ON incident USING gist (geom)
    WHERE state IN ('reported', 'accepted', 'dispatched', 'in_progress', 'suspended', 'resolved');
