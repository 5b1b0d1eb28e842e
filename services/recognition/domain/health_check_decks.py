"""The decks a health-check round starts from: each card, what green and what red mean for it.

`cop-health` asks how a community of practice is doing; `squad-health` is Spotify's squad health
check (its "Tech quality" card is the one also called "Health of codebase").
"""

from typing import Final

from shared.events.catalog import HealthCheckCard, HealthCheckTemplate


def _card(card_id: str, title: str, green: str, red: str) -> HealthCheckCard:
    return HealthCheckCard(card_id=card_id, title=title, green=green, red=red)


COP_HEALTH: Final = (
    _card(
        "learning-growth",
        "Learning & growth",
        "We come away from almost every session knowing something new, and our skills grow.",
        "We rarely learn anything here; our skills stay where they were.",
    ),
    _card(
        "help",
        "Help",
        "Asking the community for help is easy, and someone always answers.",
        "Questions go unanswered; we are stuck on our own.",
    ),
    _card(
        "safety",
        "Safety",
        "Anyone can share a half-formed idea or admit a mistake without being judged.",
        "People keep quiet rather than risk looking foolish.",
    ),
    _card(
        "collaborate",
        "Collaborate",
        "We work on things together, across teams.",
        "We meet, but each of us works alone.",
    ),
    _card(
        "share-knowledge",
        "Share knowledge & learnings",
        "What one of us learns reaches the others quickly, in talks and in written artifacts.",
        "Knowledge stays in people's heads and in their own teams.",
    ),
    _card(
        "long-term-strategies",
        "Align on long-term strategies",
        "We share a view of where our practice is heading and steer towards it.",
        "Nobody knows where we are going; every team pulls its own way.",
    ),
    _card(
        "how-we-work",
        "Align on how we do work",
        "We agree on common practices and standards, and we use them.",
        "Every team does it its own way, and our practices contradict each other.",
    ),
    _card(
        "fun",
        "Fun",
        "We enjoy coming; it is one of the good parts of the week.",
        "Attending feels like a chore.",
    ),
    _card(
        "feedback",
        "Feedback",
        "We tell each other honestly what could be better, and act on it.",
        "Nobody says what could be better, or nobody listens.",
    ),
    _card(
        "ability-to-decide",
        "Ability to decide",
        "The community decides on its practices, and its decisions hold.",
        "We talk, but decisions are taken elsewhere or not at all.",
    ),
    _card(
        "motivation",
        "Motivation",
        "We are keen to contribute and to keep the community alive.",
        "The same few carry everything; others have lost interest.",
    ),
)

SQUAD_HEALTH: Final = (
    _card(
        "easy-to-release",
        "Easy to release",
        "Releasing is simple, safe and mostly automated.",
        "Releasing is risky, manual and slow.",
    ),
    _card(
        "suitable-process",
        "Suitable process",
        "Our way of working fits us well.",
        "Our way of working gets in our way.",
    ),
    _card(
        "tech-quality",
        "Tech quality",
        "Our code is clean, readable and well tested; we are proud of it.",
        "Our code is a mess, full of technical debt.",
    ),
    _card(
        "value",
        "Value",
        "We deliver things that matter, and those we deliver for are glad of them.",
        "What we deliver is of little use, and we know it.",
    ),
    _card(
        "speed",
        "Speed",
        "We get things done quickly, without waiting on others.",
        "Work gets stuck, interrupted or delayed all the time.",
    ),
    _card(
        "mission",
        "Mission",
        "We know why we are here, and it excites us.",
        "Our mission is missing, unclear or uninspiring.",
    ),
    _card(
        "fun",
        "Fun",
        "We enjoy working together.",
        "Work is boring.",
    ),
    _card(
        "learning",
        "Learning",
        "We learn interesting things all the time.",
        "We never have time to learn anything.",
    ),
    _card(
        "support",
        "Support",
        "When we ask for help or advice, we get it quickly.",
        "We are stuck because nobody helps us.",
    ),
    _card(
        "pawns-or-players",
        "Pawns or players",
        "We decide what to build and how to build it.",
        "Others decide for us; we have no say.",
    ),
    _card(
        "teamwork",
        "Teamwork",
        "We are a real team and work well together.",
        "We are a group of individuals who do not really collaborate.",
    ),
)

DECKS: Final[dict[HealthCheckTemplate, tuple[HealthCheckCard, ...]]] = {
    HealthCheckTemplate.COP_HEALTH: COP_HEALTH,
    HealthCheckTemplate.SQUAD_HEALTH: SQUAD_HEALTH,
}
