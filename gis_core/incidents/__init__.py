"""Snap-and-report incidents.

Submission and its photos, routing, the closed-loop workflow, SLA
escalation, the incident filters and their hotspots.
"""
