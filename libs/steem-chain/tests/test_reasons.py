"""Every way a node fails, as one short reason: real sockets, a real replay node."""

import re

import pytest
from steem_chain import NodeClient, NodeError, Trouble
from steem_testing.servers import free_port

NOISE = re.compile(r"HTTPConnectionPool|Max retries|urllib3|object at 0x|Traceback|\n")


def failure(client: NodeClient, action=lambda c: c.tip()) -> NodeError:
    with pytest.raises(NodeError) as caught:
        action(client)
    reason = caught.value.reason
    assert not NOISE.search(reason) and len(reason) <= 100, f"not short: {reason!r}"
    return caught.value


def test_unknown_host_and_refused_port_are_down():
    unknown = failure(NodeClient("http://no-such-node.invalid", timeout=5))
    assert (unknown.reason, unknown.trouble) == ("host name not found", Trouble.DOWN)
    refused = failure(NodeClient(f"http://127.0.0.1:{free_port()}", timeout=5))
    assert (refused.reason, refused.trouble) == ("connection refused", Trouble.DOWN)


def test_a_stall_is_a_timeout_with_its_length(replay_node, chain):
    node = replay_node(chain.path, "--pace", "0", "--fail-stall", "1", "--stall-seconds", "3")
    err = failure(NodeClient(node.url, timeout=0.5))
    assert (err.reason, err.trouble) == ("timed out after 0.5 s", Trouble.SLOW)


def test_http_503_says_so_and_asks_for_fewer_requests(replay_node, chain):
    node = replay_node(chain.path, "--pace", "0", "--fail-503", "1")
    err = failure(NodeClient(node.url, timeout=5))
    assert (err.reason, err.trouble) == ("HTTP 503", Trouble.THROTTLED)


@pytest.mark.parametrize(
    "option, reason",
    [
        ("--fail-truncate", r"^truncated or malformed JSON \(.+\)$"),
        ("--fail-rpc-error", r"^JSON-RPC error: Internal Error$"),
    ],
)
def test_bad_answers_are_named(replay_node, chain, option, reason):
    node = replay_node(chain.path, "--pace", "0", option, "1")
    err = failure(NodeClient(node.url, timeout=5), lambda c: c.blocks(chain.first, chain.first + 9))
    assert re.match(reason, err.reason), err.reason
    assert err.trouble is Trouble.BROKEN


def test_a_missing_block_is_named_by_its_number(replay_node, chain):
    node = replay_node(chain.path, "--pace", "0", "--null-blocks", str(chain.first + 3))
    err = failure(NodeClient(node.url, timeout=5), lambda c: c.blocks(chain.first, chain.first + 9))
    assert err.reason == f"block {chain.first + 3}: empty answer (null)"
