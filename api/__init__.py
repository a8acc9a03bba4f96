"""OneGrid HTTP API (FastAPI): thin routers over gis_core."""
