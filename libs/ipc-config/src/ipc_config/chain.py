"""Facts of the Steem chain that several members need, each defined once.

from ipc_config.chain import BLOCK_INTERVAL, block_num_of, post_url, is_new_post
"""

import re
from typing import Any

from ipc_config.contract import COMMENT_CREATED, COMMENT_EDITED, COMMENT_GONE

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


def comment_state(comment: dict[str, Any], created: str | None, timestamp: str) -> str:
    """What a `comment` operation in a block of `timestamp` did, given the `created` time
    the chain has for that author and permlink now (None: the chain no longer has it).

    Steem has no edit operation: an edit sends `comment` again. Creating a comment sets
    its `created` to the block's time, and a comment cannot be edited in the block that
    created it ("Can only perform one comment edit per block"): so the operation created
    the comment if and only if `created` is the block's time. A comment deleted since
    cannot be told apart any more: `gone`.
    """
    if created is None:
        return COMMENT_GONE
    return COMMENT_CREATED if created == timestamp else COMMENT_EDITED


def is_new_post(comment: dict[str, Any], state: str | None = None) -> bool:
    """A `comment` body that creates a top-level post: no parent author, and `created` by
    this very operation (the Steem-Comment header, see `comment_state`). A message from
    before that header (`state` None) falls back to the older rule, which takes an edit
    resending the whole body for a new post: not an edit sent as a patch. A post deleted
    since is not announced: there is nothing to link to. Raises KeyError or TypeError when
    the body is not a comment."""
    if comment["parent_author"] != "":
        return False
    if state is not None:
        return state == COMMENT_CREATED
    return not str(comment.get("body", "")).startswith(PATCH_PREFIX)


def post_url(author: str, permlink: str) -> str:
    """`https://steemit.com/@author/permlink`. Raises ValueError for what cannot make one."""
    if not (isinstance(author, str) and author and isinstance(permlink, str) and permlink):
        raise ValueError(f"author {author!r} / permlink {permlink!r} cannot make a URL")
    return POST_URL.format(author=author, permlink=permlink)
