"""Reads that answer the HTTP queries: communities, members, sessions and action items
(`communities.py`), the topic backlog (`topics.py`)."""
