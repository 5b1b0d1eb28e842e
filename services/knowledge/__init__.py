"""Knowledge: artifacts (patterns, decision logs, playbooks, ...), versions, reuse, search."""
