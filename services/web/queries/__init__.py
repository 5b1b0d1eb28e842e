"""What the pages show, read from the services' APIs: the community, session, member and review
pages (`pages.py`) and the self-assessment health checks (`health_checks.py`)."""
