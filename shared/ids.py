"""The identifiers of the contract: members, communities, sessions, artifacts and the rest.

Here rather than in the catalog so that what needs only an id (a token's subject) does not load
every event model.
"""

from typing import Annotated

from pydantic import Field

Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$")]
