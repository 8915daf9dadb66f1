"""Names and proportions that make synthetic blocks look like 2016 Steem blocks."""

from __future__ import annotations

__all__ = [
    "ACCOUNT_KEYS",
    "CORE_TYPES",
    "FOLLOW_WHAT",
    "MIX",
    "SYLLABLES",
    "TAGS",
    "URL_WORDS",
    "WITNESSES",
]

# Fields that hold an account name (varied when an operation is made from a template).
ACCOUNT_KEYS = frozenset(
    [
        "voter",
        "author",
        "from",
        "to",
        "owner",
        "account",
        "creator",
        "new_account_name",
        "from_account",
        "to_account",
        "proxy",
        "witness",
        "publisher",
        "account_to_recover",
        "recovery_account",
        "new_recovery_account",
        "delegator",
        "delegatee",
        "agent",
        "who",
    ]
)

# Popular 2016 steemit tags (used as categories of synthetic posts).
TAGS = tuple(
    [
        "steemit",
        "life",
        "photography",
        "art",
        "travel",
        "bitcoin",
        "steem",
        "introduceyourself",
        "food",
        "story",
        "news",
        "music",
        "crypto",
        "writing",
        "blog",
        "money",
        "health",
        "science",
        "poetry",
        "funny",
        "nature",
        "diy",
        "religion",
        "philosophy",
        "diary",
        "cryptocurrency",
        "gaming",
        "technology",
        "politics",
        "steemfest",
    ]
)

# 2016 top-21 witnesses (block producers of synthetic blocks).
WITNESSES = tuple(
    [
        "complexring",
        "blocktrades",
        "joseph",
        "roadscape",
        "smooth.witness",
        "abit",
        "wackou",
        "riverhead",
        "pharesim",
        "xeldal",
        "arhag",
        "bhuz",
        "steempty",
        "clayop",
        "witness.svk",
        "jesta",
        "pfunk",
        "ihashfury",
        "datasecuritynode",
        "kushed",
        "au1nethyb1",
    ]
)

# Syllables of synthetic account names.
SYLLABLES = tuple(
    [
        "ka",
        "ri",
        "mo",
        "ta",
        "le",
        "ne",
        "so",
        "vi",
        "da",
        "lu",
        "mi",
        "ra",
        "to",
        "be",
        "co",
        "sa",
        "ni",
        "ge",
        "fa",
        "ho",
        "ju",
        "pe",
        "qu",
        "si",
        "ze",
        "ly",
        "ve",
        "wo",
        "xa",
        "ar",
        "en",
        "in",
        "on",
        "ul",
        "ax",
        "el",
        "ix",
    ]
)

# Share of non-post operations by kind (new posts are added on top, per block).
MIX = (
    ("vote", 56),
    ("custom_json", 15),
    ("reply", 15),
    ("transfer", 7),
    ("transfer_to_vesting", 3),
    ("other", 4),
)
# Types built field by field; the others are copies of a template with accounts varied.
CORE_TYPES = frozenset(
    (
        "vote_operation",
        "comment_operation",
        "custom_json_operation",
        "transfer_operation",
        "transfer_to_vesting_operation",
        "comment_options_operation",
    )
)
FOLLOW_WHAT = ("[]", '["blog"]', '["blog"]', '["blog"]', '["ignore"]')
# Words of URLs, not of prose: kept out of the vocabulary of synthetic texts.
URL_WORDS = frozenset(("http", "https", "www", "com", "jpg", "png", "gif", "html", "org", "net"))
