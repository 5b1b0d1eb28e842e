"""`cop-impact`: run the impact service."""

from services.impact.settings import ImpactSettings
from shared.serve import serve


def run() -> None:
    from services.impact.bootstrap import bootstrap

    settings = ImpactSettings()
    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    run()
