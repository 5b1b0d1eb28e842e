"""Reads for the HTTP API: kudos, profiles, leaderboards and community health
(`community.py`); self-assessment rounds and their results (`health_checks.py`)."""
