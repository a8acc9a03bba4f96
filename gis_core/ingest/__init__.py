"""What comes in as whole data sets.

The importers and their topology check, the bulk COPY
helpers, and the demo district's load.
"""
