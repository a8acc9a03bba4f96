"""Published map layers, one declarative definition per file (see issue: tiles and features)."""
