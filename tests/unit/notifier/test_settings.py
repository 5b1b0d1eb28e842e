"""The notifier refuses to sign webhooks with the public local secret outside local use."""

import pytest
from pydantic import ValidationError

from services.notifier.settings import LOCAL_CHAT_WEBHOOK_SECRET, NotifierSettings

SECRET = "s" * 40


def test_the_public_webhook_secret_is_refused_outside_local_use() -> None:
    with pytest.raises(ValidationError, match="CHAT_WEBHOOK_SECRET"):
        NotifierSettings(cop_env="production", auth_token_secret=SECRET)


def test_local_use_or_an_own_secret_or_no_signed_webhook_is_fine() -> None:
    assert NotifierSettings().chat_webhook_secret == LOCAL_CHAT_WEBHOOK_SECRET  # local default
    own = NotifierSettings(
        cop_env="production", auth_token_secret=SECRET, chat_webhook_secret=SECRET
    )
    assert own.chat_webhook_secret == SECRET
    unsigned = NotifierSettings(
        cop_env="production", auth_token_secret=SECRET, chat_webhook_kind="slack"
    )
    assert unsigned.chat_webhook_kind == "slack"
    no_webhook = NotifierSettings(
        cop_env="production", auth_token_secret=SECRET, chat_webhook_url=""
    )
    assert not no_webhook.chat_webhook_url
