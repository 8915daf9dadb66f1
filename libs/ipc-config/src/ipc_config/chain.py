"""Facts of the Steem chain that several members need, each defined once.

from ipc_config.chain import BLOCK_INTERVAL, block_num_of, post_url, is_new_post
"""

import re
from typing import Any

BLOCK_INTERVAL = 3.0  # seconds between two Steem blocks (STEEM_BLOCK_INTERVAL)

# Assets as appbase nodes write them: {"amount": "12500", "precision": 3, "nai": "@@000000021"}.
NAI_OF_ASSET = {"STEEM": "@@000000021", "SBD": "@@000000013", "VESTS": "@@000000037"}
ASSET_OF_NAI = {nai: asset for asset, nai in NAI_OF_ASSET.items()}
PRECISION_OF_ASSET = {"STEEM": 3, "SBD": 3, "VESTS": 6}

# An account name as the chain accepts it: 3 to 16 characters of a-z, 0-9, '.' and '-'.
ACCOUNT_NAME = re.compile(r"^[a-z0-9.-]{3,16}$")

POST_URL = "https://steemit.com/@{author}/{permlink}"
# Steem has no edit operation: an edit re-sends `comment` for the same author and permlink,
# and the usual front ends send the change as a diff-match-patch patch, which starts so.
PATCH_PREFIX = "@@ -"


def block_num_of(block_id: str) -> int:
    """A block id starts with the block number as 8 hex digits."""
    return int(block_id[:8], 16)


def is_new_post(comment: dict[str, Any]) -> bool:
    """A `comment` body that creates a top-level post: no parent author, and not an edit
    sent as a patch. Raises KeyError or TypeError when the body is not a comment."""
    return comment["parent_author"] == "" and not str(comment.get("body", "")).startswith(
        PATCH_PREFIX
    )


def post_url(author: str, permlink: str) -> str:
    """`https://steemit.com/@author/permlink`. Raises ValueError for what cannot make one."""
    if not (isinstance(author, str) and author and isinstance(permlink, str) and permlink):
        raise ValueError(f"author {author!r} / permlink {permlink!r} cannot make a URL")
    return POST_URL.format(author=author, permlink=permlink)
