"""What counts as a new post, and its URL."""

from typing import Any

POST_URL = "https://steemit.com/@{author}/{permlink}"
# Steem has no edit operation: an edit re-sends `comment` for the same author/permlink,
# and the usual front ends send the change as a diff-match-patch patch, which starts so.
_PATCH_PREFIX = "@@ -"


def is_new_post(op: dict[str, Any]) -> bool:
    """A top-level comment (no parent author) that is not an edit sent as a patch."""
    return op["parent_author"] == "" and not str(op.get("body", "")).startswith(_PATCH_PREFIX)


def post_url(op: dict[str, Any]) -> str:
    author, permlink = op["author"], op["permlink"]
    if not isinstance(author, str) or not author or not isinstance(permlink, str) or not permlink:
        raise ValueError(f"author {author!r} / permlink {permlink!r} cannot make a URL")
    return POST_URL.format(author=author, permlink=permlink)
