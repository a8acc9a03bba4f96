"""OneGrid domain core: hierarchy, anchoring, lookup, CRS, demo data; no HTTP in here."""
