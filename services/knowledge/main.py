"""`cop-knowledge`: run the knowledge service."""

from services.knowledge.settings import KnowledgeSettings
from shared.serve import serve


def run() -> None:
    from services.knowledge.bootstrap import bootstrap

    settings = KnowledgeSettings()
    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    run()
