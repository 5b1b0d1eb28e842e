"""The web service's pure rules: health series and CSV, trend arrows, refusals by field, links."""

from datetime import date

import pytest

from services.web.domain.forms import KUDOS_CODE_FIELDS, field_errors, preferences_body
from services.web.domain.health import (
    REVIEW_METRICS,
    arrow,
    dashboard,
    definition,
    figures,
    is_quarter,
    months_back,
    previous_quarter,
    quarter_months,
    quarters_back,
    shown,
    to_csv,
)
from services.web.domain.text import body_html, diff_lines, highlights_only, safe_url
from shared.community_health import METRICS, HealthMetrics


def window(period: str, **values: float) -> dict[str, object]:
    metrics = dict.fromkeys(METRICS, 0) | values
    return {"period": period, "metrics": HealthMetrics.model_validate(metrics).model_dump()}


def test_twelve_months_end_with_this_month_across_a_year_boundary() -> None:
    months = months_back(date(2026, 2, 10), 12)
    assert months[0] == "2025-03"
    assert months[-1] == "2026-02"
    assert len(months) == 12


def test_dashboard_has_every_metric_in_contract_order_and_zero_for_missing_months() -> None:
    board = dashboard(
        ["2026-01", "2026-02", "2026-03"],
        [window("2026-01", members=4, participation_rate=0.5), window("2026-03", members=6)],
    )
    assert [s.metric for s in board.series] == list(METRICS)
    members = next(s for s in board.series if s.metric == "members")
    assert members.values == [4.0, 0.0, 6.0]
    rate = next(s for s in board.series if s.metric == "participation_rate")
    assert rate.share
    assert rate.definition == "active_members / members"


def test_csv_has_a_row_per_month_and_a_column_per_metric() -> None:
    board = dashboard(["2026-01"], [window("2026-01", members=4, participation_rate=0.25)])
    header, row = to_csv(board).splitlines()
    assert header.split(",") == ["month", *METRICS]
    cells = dict(zip(header.split(","), row.split(","), strict=True))
    assert cells["members"] == "4"
    assert cells["participation_rate"] == "0.25"


@pytest.mark.parametrize(
    ("now", "before", "expected"),
    [(0.5, 0.4, "up"), (0.3, 0.4, "down"), (0.4, 0.402, "flat"), (0.0, 0.0, "none")],
)
def test_arrow_says_which_way_participation_went(now: float, before: float, expected: str) -> None:
    assert arrow(now, before) == expected


def test_shares_show_as_percentages_and_counts_as_integers() -> None:
    assert shown("participation_rate", 0.425) == "42.5%"
    assert shown("members", 12.0) == "12"
    assert shown("avg_attendance", 3.25) == "3.25"
    assert definition("absence_factor").startswith("the fewest contributors")


def test_a_validation_error_lands_on_the_field_it_names() -> None:
    problem = {"errors": [{"field": "body.message", "message": "too short"}]}
    assert field_errors(problem, ("message",)) == {"message": "too short"}


def test_a_policy_refusal_lands_on_the_field_its_code_concerns() -> None:
    problem = {"code": "unknown_value_tag", "detail": "unknown value tag 'x'; use one of …"}
    errors = field_errors(problem, ("value_tag",), KUDOS_CODE_FIELDS)
    assert errors == {"value_tag": problem["detail"]}
    used_up = {"code": "allowance_exhausted", "detail": "20 of 20 used this month"}
    assert field_errors(used_up, ("to_ids",), KUDOS_CODE_FIELDS) == {"form": used_up["detail"]}


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x", "vbscript:x"]
)
def test_only_web_and_mail_links_reach_a_page(url: str) -> None:
    assert safe_url(url) == "#"


def test_web_links_are_kept() -> None:
    assert safe_url("https://example.com/a?b=1") == "https://example.com/a?b=1"


def test_snippets_keep_only_their_highlights() -> None:
    cleaned = highlights_only('<mark>pact</mark> <img src=x onerror="x()"><script>y()</script>')
    assert cleaned == "<mark>pact</mark> "


def test_quarters_go_back_across_a_year_and_name_their_months() -> None:
    assert quarters_back(date(2027, 2, 10), 3) == ["2027-Q1", "2026-Q4", "2026-Q3"]
    assert previous_quarter("2027-Q1") == "2026-Q4"
    assert quarter_months("2026-Q4") == ["2026-10", "2026-11", "2026-12"]
    assert [is_quarter(q) for q in ("2026-Q4", "2026-Q5", "2026-10", "26-Q1")] == [
        True,
        False,
        False,
        False,
    ]


def test_review_figures_follow_the_review_order_beside_the_quarter_before() -> None:
    zero = dict.fromkeys(METRICS, 0)
    now = {**zero, "members": 12, "participation_rate": 0.5, "avg_rating": 4.25}
    before = {**zero, "members": 10, "participation_rate": 0.5, "avg_rating": 4.5}
    by_metric = {f.metric: f for f in figures(now, before)}
    assert list(by_metric) == list(REVIEW_METRICS)
    assert (by_metric["members"].shown, by_metric["members"].shown_previous) == ("12", "10")
    assert by_metric["members"].arrow == "up"
    assert by_metric["participation_rate"].arrow == "flat"
    assert by_metric["participation_rate"].shown == "50.0%"
    assert by_metric["avg_rating"].arrow == "down"
    assert by_metric["sessions_held"].arrow == "none"


def test_an_artifact_body_is_sanitised_again_at_the_edge() -> None:
    dirty = (
        '<h2>Steps</h2><script>alert(1)</script><a href="javascript:alert(2)">x</a>'
        '<img src="x" onerror="alert(3)"><a href="https://example.org">ok</a>'
    )
    clean = body_html(dirty)
    assert "<h2>Steps</h2>" in clean
    assert "script" not in clean
    assert "javascript:" not in clean
    assert "onerror" not in clean
    assert 'href="https://example.org"' in clean


def test_diff_lines_are_sorted_by_kind() -> None:
    diff = "--- a v1\n+++ a v2\n@@ -1 +1 @@\n-old\n+new\n same"
    assert [kind for kind, _ in diff_lines(diff)] == ["file", "file", "hunk", "del", "add", "same"]


def test_the_preferences_form_becomes_the_notifiers_preferences() -> None:
    fields = {
        "email": "on",
        "digest": "weekly",
        "tags": " testing, #ci ,, ",
        "quiet_start": "22:00",
        "quiet_end": "07:00",
        "level:guild": "digest",
        "level:other": "",  # left on "default": not set
        "level:unlisted": "muted",  # not a community the form showed
    }
    assert preferences_body(fields, ["guild", "other"]) == {
        "email": True,
        "communities": {"guild": "digest"},
        "tags": ["testing", "ci"],
        "digest": "weekly",
        "quiet_hours": {"start": "22:00", "end": "07:00"},
    }
    assert preferences_body({}, [])["quiet_hours"] is None
    assert preferences_body({}, [])["email"] is False
