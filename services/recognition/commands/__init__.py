"""Recognition's commands: a member gives kudos (`kudos.py`); a leader opens and closes a
self-assessment round and members answer it (`health_checks.py`)."""
