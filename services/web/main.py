"""`cop-web`: run the web pages."""

from services.web.settings import WebSettings
from shared.serve import serve


def run() -> None:
    from services.web.bootstrap import bootstrap

    settings = WebSettings()
    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    run()
