"""What each kind of notification says: one `Message`, rendered into e-mail (text and HTML
templates) and into each chat platform's payload. No I/O."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.notifier.domain.messages import ChatContent, one_line, value_label


@dataclass(frozen=True)
class Message:
    subject: str
    heading: str
    paragraphs: list[str]
    facts: dict[str, str] = field(default_factory=dict)
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, url)

    def chat(self) -> ChatContent:
        text = " ".join(self.paragraphs)
        for label, url in self.links:
            text += f"\n{label}: {url}"
        return ChatContent(title=one_line(self.heading, 150), text=text, facts=self.facts)


def when(value: Any) -> str:
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.strftime("%a %d %b %Y, %H:%M UTC") if isinstance(at, datetime) else str(value)


def _session_facts(s: dict[str, Any]) -> dict[str, str]:
    facts = {
        "community": s["community_id"],
        "when": when(s["starts_at"]),
        "length": f"{s.get('duration_minutes', 60)} min",
    }
    if s.get("location"):
        facts["where"] = str(s["location"])
    if s.get("format"):
        facts["format"] = str(s["format"]).replace("_", " ")
    return facts


def _session(subject: str, paragraph: str, session: dict[str, Any]) -> Message:
    """A message about a session: its title, one paragraph, and the facts of the session."""
    return Message(subject, session["title"], [paragraph], _session_facts(session))


def _session_scheduled(ctx: dict[str, Any], urls: dict[str, str]) -> Message:
    s = ctx["session"]
    return _session(
        f"New session: {s['title']}",
        f"A session was scheduled in {s['community_id']}. The invitation is attached.",
        s,
    )


def _session_rescheduled(ctx: dict[str, Any], urls: dict[str, str]) -> Message:
    s = ctx["session"]
    return _session(
        f"Moved: {s['title']}",
        f"The session moved to {when(s['starts_at'])}. The updated invitation is attached.",
        s,
    )


def _session_cancelled(ctx: dict[str, Any], urls: dict[str, str]) -> Message:
    s = ctx["session"]
    return _session(
        f"Cancelled: {s['title']}", f"The session is cancelled: {ctx.get('reason', '')}", s
    )


def _reminder(ctx: dict[str, Any], urls: dict[str, str]) -> Message:
    s = ctx["session"]
    return _session(f"Reminder: {s['title']} {ctx['in']}", f"{s['title']} starts {ctx['in']}.", s)


def _session_held(ctx: dict[str, Any], urls: dict[str, str]) -> Message:
    s = ctx["session"]
    links = [("Minutes", urls["minutes"]), ("Give feedback", urls["feedback"])]
    if s.get("recording_url"):
        links.insert(0, ("Recording", str(s["recording_url"])))
    return Message(
        f"Thanks for joining {s['title']}",
        s["title"],
        ["Thank you for taking part. One click tells the facilitator how it went."],
        {"community": s["community_id"]},
        links,
    )


def _artifact(verb: str, ctx: dict[str, Any], urls: dict[str, str]) -> Message:
    a = ctx["artifact"]
    lines = [a.get("summary") or f"A {a.get('kind', 'artifact')} in {a['community_id']}."]
    if verb == "Updated" and a.get("change_note"):
        lines.append(f"What changed: {a['change_note']}")
    return Message(
        f"{verb} in {a['community_id']}: {a.get('title') or a['artifact_id']}",
        a.get("title") or a["artifact_id"],
        lines,
        {"community": a["community_id"], "kind": str(a.get("kind", ""))},
        [("Read it", urls["artifact"])],
    )


def _artifact_published(ctx: dict[str, Any], urls: dict[str, str]) -> Message:
    return _artifact("New", ctx, urls)


def _artifact_revised(ctx: dict[str, Any], urls: dict[str, str]) -> Message:
    return _artifact("Updated", ctx, urls)


def _kudos(ctx: dict[str, Any], urls: dict[str, str]) -> Message:
    k = ctx["kudos"]
    value = value_label(k["value_tag"])
    return Message(
        f"{ctx['giver']} gave kudos for {value}",
        f"Kudos for {ctx['recipients']}",
        [f"{ctx['giver']} recognised {ctx['recipients']} for {value}: {k['message']}"],
        {
            "community": k["community_id"],
            "value": value,
            "from": ctx["giver"],
            "to": ctx["recipients"],
        },
    )


def _badge(ctx: dict[str, Any], urls: dict[str, str]) -> Message:
    b = ctx["badge"]
    name = b["badge"].replace("_", " ")
    return Message(
        f"{ctx['member']} earned the {name} badge",
        f"Badge: {name}",
        [f"{ctx['member']} {b.get('reason') or 'earned it'}."],
        {"community": b["community_id"], "badge": name},
    )


def _health_alert(ctx: dict[str, Any], urls: dict[str, str]) -> Message:
    a = ctx["alert"]
    name = a["alert"].replace("_", " ")
    details = ", ".join(f"{k}: {v}" for k, v in (a.get("details") or {}).items())
    return Message(
        f"Health alert for {a['community_id']}: {name}",
        f"Health: {name}",
        [f"{a['community_id']} shows {name} in {a['period']}. {details}".strip()],
        {"community": a["community_id"], "period": a["period"]},
        [("Community health", urls["health"])],
    )


def _digest(ctx: dict[str, Any], urls: dict[str, str]) -> Message:
    items = ctx["items"]
    return Message(
        f"Your {ctx['frequency']} digest of {ctx['community_id']}: "
        f"{len(items)} update{'s' if len(items) != 1 else ''}",
        f"What happened in {ctx['community_id']}",
        [f"{when(i['at'])} - {i['subject']}" for i in items],
        {"community": ctx["community_id"]},
    )


Render = Callable[[dict[str, Any], dict[str, str]], Message]
MESSAGES: dict[str, Render] = {
    "session_scheduled": _session_scheduled,
    "session_rescheduled": _session_rescheduled,
    "session_cancelled": _session_cancelled,
    "reminder": _reminder,
    "session_held": _session_held,
    "artifact_published": _artifact_published,
    "artifact_revised": _artifact_revised,
    "kudos": _kudos,
    "badge": _badge,
    "health_alert": _health_alert,
    "digest": _digest,
}
"""Each kind of notification, and what renders its message from the context its planner
recorded and the links of the service's pages (`urls`)."""


def message(kind: str, ctx: dict[str, Any], urls: dict[str, str]) -> Message:
    """The message of a notification of `kind`, from the context its planner recorded."""
    render = MESSAGES.get(kind)
    if render is None:
        raise ValueError(f"no message for {kind!r}")
    return render(ctx, urls)
