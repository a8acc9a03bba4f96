"""Packaged SQL files, loaded with importlib.resources."""
