"""`cop-recognition`: run the recognition service."""

from services.recognition.settings import RecognitionSettings
from shared.serve import serve


def run() -> None:
    from services.recognition.bootstrap import bootstrap

    settings = RecognitionSettings()
    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    run()
