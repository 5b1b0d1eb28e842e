"""`cop-events`: run the events service."""

from services.events.settings import EventsSettings
from shared.serve import serve


def run() -> None:
    from services.events.bootstrap import bootstrap

    settings = EventsSettings()
    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    run()
