"""Work in the field beyond the report itself.

Tracks and patrols, calls and dispatch, tours of the
wall, the cold-chain watch and the warnings engine.
"""
