"""The events service's commands: what members ask for over HTTP (`members.py`) and what other
systems send (`ingest.py`, the inbound gateway: their events are commands to judge and route)."""
