"""Snap-and-report incidents: submission, routing, the closed-loop workflow, SLA escalation."""
