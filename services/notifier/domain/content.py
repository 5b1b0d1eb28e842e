"""What each kind of notification says: one `Message`, rendered into e-mail (text and HTML
templates) and into each chat platform's payload. No I/O."""

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


def message(kind: str, ctx: dict[str, Any], urls: dict[str, str]) -> Message:
    """The message of a notification of `kind`, from the context its planner recorded."""
    if kind in ("session_scheduled", "session_rescheduled", "session_cancelled", "reminder"):
        s = ctx["session"]
        title = s["title"]
        if kind == "session_scheduled":
            return Message(
                f"New session: {title}",
                title,
                [f"A session was scheduled in {s['community_id']}. The invitation is attached."],
                _session_facts(s),
            )
        if kind == "session_rescheduled":
            return Message(
                f"Moved: {title}",
                title,
                [
                    f"The session moved to {when(s['starts_at'])}. The updated "
                    "invitation is attached."
                ],
                _session_facts(s),
            )
        if kind == "session_cancelled":
            return Message(
                f"Cancelled: {title}",
                title,
                [f"The session is cancelled: {ctx.get('reason', '')}"],
                _session_facts(s),
            )
        return Message(
            f"Reminder: {title} {ctx['in']}",
            title,
            [f"{title} starts {ctx['in']}."],
            _session_facts(s),
        )
    if kind == "session_held":
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
    if kind in ("artifact_published", "artifact_revised"):
        a = ctx["artifact"]
        verb = "New" if kind == "artifact_published" else "Updated"
        lines = [a.get("summary") or f"A {a.get('kind', 'artifact')} in {a['community_id']}."]
        if kind == "artifact_revised" and a.get("change_note"):
            lines.append(f"What changed: {a['change_note']}")
        return Message(
            f"{verb} in {a['community_id']}: {a.get('title') or a['artifact_id']}",
            a.get("title") or a["artifact_id"],
            lines,
            {"community": a["community_id"], "kind": str(a.get("kind", ""))},
            [("Read it", urls["artifact"])],
        )
    if kind == "kudos":
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
    if kind == "badge":
        b = ctx["badge"]
        name = b["badge"].replace("_", " ")
        return Message(
            f"{ctx['member']} earned the {name} badge",
            f"Badge: {name}",
            [f"{ctx['member']} {b.get('reason') or 'earned it'}."],
            {"community": b["community_id"], "badge": name},
        )
    if kind == "health_alert":
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
    if kind == "digest":
        items = ctx["items"]
        return Message(
            f"Your {ctx['frequency']} digest of {ctx['community_id']}: "
            f"{len(items)} update{'s' if len(items) != 1 else ''}",
            f"What happened in {ctx['community_id']}",
            [f"{when(i['at'])} - {i['subject']}" for i in items],
            {"community": ctx["community_id"]},
        )
    raise ValueError(f"no message for {kind!r}")
