"""The ids the events service makes, all in one place: a prefix per kind and a random part."""

import uuid


def _new(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def new_community_id() -> str:
    return _new("cop")


def new_session_id() -> str:
    return _new("s")


def new_action_item_id() -> str:
    return _new("ai")


def new_topic_id() -> str:
    return _new("t")
