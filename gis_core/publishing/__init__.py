"""What OneGrid publishes.

The layer registry, vector tiles and their cache, OGC API features,
map styles, and the audit of reads of personal layers.
"""
