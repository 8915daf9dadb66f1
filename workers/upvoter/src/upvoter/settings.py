"""UPVOTE_ACCOUNT, UPVOTE_AUTHORS and UPVOTE_WEIGHT: the upvoter's settings.

settings = UpvoteSettings.from_env({"UPVOTE_ACCOUNT": "me", "UPVOTE_AUTHORS": "alice,bob"})
settings.wants("alice")   # True; with UPVOTE_AUTHORS=* every author
"""

from typing import Annotated, Any, Self

from ipc_config import WorkerSettings, setting
from ipc_config.chain import ACCOUNT_NAME
from ipc_config.settings import invalid
from pydantic import field_validator, model_validator
from pydantic_settings import NoDecode

EVERY_AUTHOR = "*"
_NAME = "3 to 16 characters among a-z, 0-9, '.' and '-'"


class UpvoteSettings(WorkerSettings):
    account: str | None = setting("UPVOTE_ACCOUNT", f"a Steem account name ({_NAME})")
    authors: Annotated[frozenset[str], NoDecode] = setting(
        "UPVOTE_AUTHORS", "comma-separated account names, or * for every new post", frozenset()
    )
    weight: float = setting(
        "UPVOTE_WEIGHT", "a percentage above 0, at most 100", 100.0, gt=0, le=100
    )

    def wants(self, author: str) -> bool:
        return EVERY_AUTHOR in self.authors or author in self.authors

    def describe(self) -> str:
        whose = (
            "every new post"
            if EVERY_AUTHOR in self.authors
            else ("new posts of " + ", ".join(f"@{name}" for name in sorted(self.authors)))
        )
        return f"voting {self.weight:g}% as @{self.account} on {whose}"

    @field_validator("account")
    @classmethod
    def _account(cls, name: str | None) -> str | None:
        if name is not None and not ACCOUNT_NAME.match(name):
            raise invalid(f"UPVOTE_ACCOUNT={name!r} is not a Steem account name ({_NAME})")
        return name

    @field_validator("authors", mode="before")
    @classmethod
    def _authors(cls, raw: Any) -> frozenset[str]:
        if not isinstance(raw, str):
            return frozenset(raw)
        names = [part.strip() for part in raw.split(",") if part.strip()]
        for name in names:
            if name != EVERY_AUTHOR and not ACCOUNT_NAME.match(name):
                raise invalid(f"UPVOTE_AUTHORS: {name!r} is not a Steem account name ({_NAME})")
        return frozenset(names)

    @model_validator(mode="after")
    def _authors_with_account(self) -> Self:
        if self.account is not None and not self.authors:
            raise invalid(
                "UPVOTE_AUTHORS is not set; expected comma-separated account names whose "
                "new posts to vote, or * for every new post"
            )
        return self
