"""`cop-notifier`: run the notifier service."""

from services.notifier.settings import NotifierSettings
from shared.serve import serve


def run() -> None:
    from services.notifier.bootstrap import bootstrap

    settings = NotifierSettings()
    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    run()
