"""What went wrong with a node, in a few words, and what kind of trouble it is.

beem raises its retry counters from inside the handler of the real error, and requests
wraps urllib3, which wraps the socket error: a failure arrives as a chain five exceptions
deep (`NumRetriesReached` <- `ConnectionError` <- `MaxRetryError` <- `NameResolutionError`
<- `gaierror`). `classify` walks the chain and keeps what a person needs:
`host name not found`, `timed out after 10 s`, `HTTP 503`.
"""

import json
import socket
import ssl
from enum import Enum
from http.client import RemoteDisconnected

from beemapi.exceptions import InvalidParameters, RPCError
from requests.exceptions import ConnectTimeout, ReadTimeout
from urllib3.exceptions import NameResolutionError, ProtocolError


class Trouble(Enum):
    """How a failure should change the way we use the node."""

    DOWN = "down"  # cannot reach it at all: leave it alone for a while
    THROTTLED = "throttled"  # HTTP 429 or 503: it asks us for fewer requests
    SLOW = "slow"  # timed out: fewer and smaller requests
    BROKEN = "broken"  # answered, but not with what we asked for
    REFUSED = "refused"  # the request itself is wrong (bad parameters): no node will do better


class NodeError(Exception):
    """One node could not give us what we asked for; another may."""

    def __init__(self, reason: str, trouble: Trouble = Trouble.BROKEN, retry_after: float = 0.0):
        super().__init__(reason)
        self.reason = reason
        self.trouble = trouble
        self.retry_after = retry_after  # seconds, from a Retry-After header


class Stopped(Exception):
    """The process is shutting down (while reading the chain or retrying a publish)."""


class HttpStatus(Exception):
    """An HTTP answer that is not a JSON-RPC answer (raised from inside beem's call)."""

    def __init__(self, status: int, retry_after: str | None = None):
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


def chain_of(err: BaseException) -> list[BaseException]:
    """The error and every error behind it (causes, contexts, urllib3's `reason`)."""
    found: list[BaseException] = []
    todo: list[BaseException | None] = [err]
    while todo and len(found) < 20:
        current = todo.pop(0)
        if current is None or any(current is seen for seen in found):
            continue
        found.append(current)
        todo += [current.__cause__, current.__context__, getattr(current, "reason", None)]
        todo += [arg for arg in current.args if isinstance(arg, BaseException)]
    return [e for e in found if isinstance(e, BaseException)]


def classify(err: BaseException, timeout: float) -> NodeError:
    """The short reason and the kind of trouble behind any error of a node call."""
    if isinstance(err, NodeError):
        return err
    chain = chain_of(err)

    def has(*kinds: type) -> BaseException | None:
        return next((e for e in chain if isinstance(e, kinds)), None)

    if (status := has(HttpStatus)) is not None:
        return _http_status(status)  # type: ignore[arg-type]
    if has(NameResolutionError, socket.gaierror):
        return NodeError("host name not found", Trouble.DOWN)
    if has(ConnectTimeout):
        return NodeError(f"no connection within {timeout:g} s", Trouble.DOWN)
    if has(ConnectionRefusedError):
        return NodeError("connection refused", Trouble.DOWN)
    if (tls := has(ssl.SSLError)) is not None:
        return NodeError(f"TLS error: {_short(tls)}", Trouble.DOWN)
    if has(ReadTimeout, TimeoutError, socket.timeout):
        return NodeError(f"timed out after {timeout:g} s", Trouble.SLOW)
    if has(ConnectionResetError):
        return NodeError("connection reset by the node", Trouble.BROKEN)
    if has(RemoteDisconnected, ProtocolError):
        return NodeError("the node closed the connection", Trouble.BROKEN)
    if (bad_json := has(json.JSONDecodeError)) is not None:
        return NodeError(f"truncated or malformed JSON ({bad_json})", Trouble.BROKEN)
    if has(InvalidParameters):
        return NodeError("JSON-RPC error: Invalid parameters", Trouble.REFUSED)
    if (rpc := has(RPCError)) is not None:
        return NodeError(f"JSON-RPC error: {_short(rpc)}", Trouble.BROKEN)
    telling = [e for e in chain if str(e)] or chain
    return NodeError(f"{type(telling[-1]).__name__}: {_short(telling[-1])}", Trouble.BROKEN)


def _http_status(err: HttpStatus) -> NodeError:
    trouble = Trouble.THROTTLED if err.status in (429, 503) else Trouble.BROKEN
    wait = _seconds(err.retry_after)
    reason = f"HTTP {err.status}" + (f" (retry after {wait:g} s)" if wait else "")
    return NodeError(reason, trouble, wait)


def _seconds(retry_after: str | None) -> float:
    """Retry-After in seconds; the HTTP-date form is rare on JSON-RPC nodes: ignored."""
    try:
        return max(0.0, float(retry_after or 0))
    except ValueError:
        return 0.0


def _short(err: BaseException, limit: int = 120) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(err: BaseException, timeout: float = 10.0) -> str:
    """The short reason behind any error of a node call (`timed out after 10 s`)."""
    return classify(err, timeout).reason
