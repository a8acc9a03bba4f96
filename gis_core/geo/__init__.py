"""Place.

Coordinate systems, the district's mapped units, point-to-grid lookup, and the spatial
statistics and service circles that know nothing of incidents.
"""
