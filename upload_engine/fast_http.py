"""The HTTP half of the fast PutObject (fast_put.py): urllib3 pools that connect exactly as
the engine's botocore client does, and urllib3's failures raised as botocore's exceptions.

Settings are read from the client's own `URLLib3Session` (what botocore resolved from the
client config, `AWS_CA_BUNDLE`/`REQUESTS_CA_BUNDLE`, `ca_bundle`, `client_cert`, socket
options, proxies), so TLS verification here is never weaker or stronger than botocore's.
The exception mapping mirrors `URLLib3Session.send`, class for class, so classify.py gives
both paths the same contract codes and retry.py retries them alike.
"""

from __future__ import annotations

import select
import socket
import threading
from concurrent.futures import CancelledError
from typing import Any

import gevent.monkey
import urllib3
import urllib3.connection
from botocore import exceptions as bce
from botocore import httpsession
from urllib3 import exceptions as u3e
from urllib3.util import Timeout

from upload_engine.settings import EngineSettings

Response = tuple[int, urllib3.HTTPHeaderDict, bytes]
# Never patched by gevent: a zero-timeout poll must not cost a trip through the hub.
_poll = gevent.monkey.get_original("select", "poll")


class _CheckWithoutYielding(urllib3.connection.HTTPConnection):
    @property
    def is_connected(self) -> bool:
        """urllib3's check of a pooled connection before reuse (did the server close it?),
        as urllib3 does it (poll for readability, timeout 0) but with the unpatched poll:
        gevent's would switch to the hub and back on every PUT, costing CPU and latency."""
        if self.sock is None:
            return False
        poller = _poll()
        poller.register(self.sock.fileno(), select.POLLIN)
        return not poller.poll(0)


class _HTTPConnection(_CheckWithoutYielding):
    pass


class _HTTPSConnection(_CheckWithoutYielding, urllib3.connection.HTTPSConnection):
    pass


class ConnectionPools:
    """One urllib3 pool per origin (path style: one; virtual-hosted: one per bucket host)."""

    def __init__(self, session: httpsession.URLLib3Session, settings: EngineSettings) -> None:
        # Private attributes of botocore's session: read once, and `like` returns None (so
        # the engine stays on botocore) if a botocore release renames them.
        self._verify: bool | str = session._verify  # type: ignore[attr-defined]
        self._proxy_config = session._proxy_config  # type: ignore[attr-defined]
        common: dict[str, Any] = {
            # As botocore's pool: never block a greenlet waiting for a connection.
            "maxsize": max(10, settings.max_concurrency),
            "block": False,
            "timeout": Timeout(
                connect=settings.s3_connect_timeout_s, read=settings.s3_read_timeout_s
            ),
            "socket_options": session._socket_options,  # type: ignore[attr-defined]
        }
        if httpsession.BUFFER_SIZE:
            common["blocksize"] = httpsession.BUFFER_SIZE
        self._http = common
        verify = self._verify
        self._https = {
            **common,
            "ssl_context": httpsession.create_urllib3_context(),
            "cert_reqs": "CERT_REQUIRED" if verify else "CERT_NONE",
            "ca_certs": httpsession.get_cert_path(verify) if verify else None,
            "cert_file": session._cert_file,  # type: ignore[attr-defined]
            "key_file": session._key_file,  # type: ignore[attr-defined]
        }
        self._pools: dict[str, urllib3.HTTPConnectionPool] = {}
        self._lock = threading.Lock()

    @classmethod
    def like(cls, session: object, settings: EngineSettings) -> ConnectionPools | None:
        if type(session) is not httpsession.URLLib3Session:
            return None  # a custom HTTP session: its behaviour is not ours to copy
        try:
            return cls(session, settings)
        except AttributeError:
            return None

    def proxied(self, url: str) -> bool:
        """botocore's own decision for this URL (config proxies, or the environment's
        HTTP(S)_PROXY/NO_PROXY as seen when the client was made)."""
        return bool(self._proxy_config.proxy_url_for(url))

    def for_origin(self, origin: str) -> urllib3.HTTPConnectionPool:
        """The pool for `scheme://host[:port]`."""
        with self._lock:
            pool = self._pools.get(origin)
            if pool is None:
                kwargs = self._https if origin.startswith("https://") else self._http
                pool = urllib3.connection_from_url(origin, **kwargs)
                pool.ConnectionCls = (
                    _HTTPSConnection
                    if isinstance(pool, urllib3.HTTPSConnectionPool)
                    else _HTTPConnection
                )
                self._pools[origin] = pool
            return pool

    def close(self) -> None:
        with self._lock:
            for pool in self._pools.values():
                pool.close()
            self._pools.clear()


def send(
    pool: urllib3.HTTPConnectionPool,
    url: str,
    path: str,
    headers: urllib3.HTTPHeaderDict,
    body: bytes,
) -> Response:
    """One PUT, no retries, no redirects followed (as botocore: `Retry(False)`); the
    response body read in full. Raises what `URLLib3Session.send` raises."""
    try:
        response = pool.urlopen(
            "PUT",
            path,
            body=body,
            headers=headers,
            retries=False,
            redirect=False,
            assert_same_host=False,
            preload_content=True,
            decode_content=False,
            enforce_content_length=False,
        )
        return response.status, response.headers, response.data
    except u3e.SSLError as exc:
        raise bce.SSLError(endpoint_url=url, error=exc) from exc
    # NewConnectionError derives from ConnectTimeoutError: it must come first, as in botocore.
    except (u3e.NewConnectionError, socket.gaierror) as exc:
        raise bce.EndpointConnectionError(endpoint_url=url, error=exc) from exc
    except u3e.ConnectTimeoutError as exc:
        raise bce.ConnectTimeoutError(endpoint_url=url, error=exc) from exc
    except u3e.ReadTimeoutError as exc:
        raise bce.ReadTimeoutError(endpoint_url=url, error=exc) from exc
    except u3e.ProtocolError as exc:
        raise bce.ConnectionClosedError(error=exc, request=None, endpoint_url=url) from exc
    except CancelledError:
        raise
    except Exception as exc:
        raise bce.HTTPClientError(error=exc) from exc
