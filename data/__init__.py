"""Catalogues, the demo-district generator and its word lists."""
