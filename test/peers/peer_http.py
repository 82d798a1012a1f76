"""Plumbing shared by the LMS-side test peers (lti13_platform.py, lti11_consumer.py):

- `serve()`: a threaded WSGI server on a free port, plain http (hub tier, 127.0.0.1) or TLS
  (the peer container); the TLS handshake runs in the request's thread, so one silent client
  cannot stall the accept loop;
- `Request`/`reply()`: what a peer route sees and returns, `(status, headers, body)`;
- `Faults`: "answer the next N requests of this route with status S" for the tests;
- `http_session()`: a requests.Session that trusts exactly the CA it is given. This machine
  sets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE, which override `Session.verify` while `trust_env` is
  on, so every peer client turns `trust_env` off (that also keeps proxies out of loopback calls);
- `AdminApi`: the server process's test-only API (/_test/...), a bearer-token RPC onto a
  whitelist of each peer's methods, so the e2e tier drives a peer in a container the same way
  the hub tier calls it in-process.
"""

from __future__ import annotations

import json
import secrets
import ssl
import threading
import traceback
from dataclasses import dataclass
from http import HTTPStatus
from socketserver import ThreadingMixIn
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import requests

Reply = tuple  # (status: int, headers: list[tuple[str, str]], body: bytes)


def reply(status: int, body=b"", ctype: str = "application/json", headers=()) -> Reply:
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return status, [("Content-Type", ctype), *headers], body


def http_session(ca_bundle=None) -> requests.Session:
    """A client trusting `ca_bundle` (a PEM path), or the default store when None; it ignores
    REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE and proxy variables (trust_env off)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_bundle) if ca_bundle else True
    return session


@dataclass
class Request:
    method: str
    path: str
    query: dict
    query_string: str
    headers: dict  # lower-case names
    content_type: str  # media type, lower case, without parameters
    body: bytes

    @classmethod
    def from_environ(cls, environ) -> "Request":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        qs = environ.get("QUERY_STRING", "")
        return cls(method=environ["REQUEST_METHOD"], path=environ.get("PATH_INFO") or "/",
                   query=dict(parse_qsl(qs, keep_blank_values=True)), query_string=qs, headers=headers,
                   content_type=headers.get("content-type", "").split(";")[0].strip().lower(), body=body)

    def form(self) -> dict:
        if self.content_type != "application/x-www-form-urlencoded":
            return {}
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    def json(self):
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Fault:
    status: int
    remaining: int
    retry_after: int | None = None


class Faults:
    """Per route name: answer the next `times` requests with `status` (and Retry-After)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}

    def set(self, target: str, status: int, times: int = 1, retry_after: int | None = None) -> None:
        with self._lock:
            self._faults[target] = Fault(int(status), int(times), retry_after)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, target: str) -> Fault | None:
        with self._lock:
            fault = self._faults.get(target)
            if fault is None or fault.remaining <= 0:
                return None
            fault.remaining -= 1
            return fault

    def reply(self, fault: Fault, body, ctype="application/json") -> Reply:
        headers = [("Retry-After", str(fault.retry_after))] if fault.retry_after is not None else []
        return reply(fault.status, body, ctype, headers)


def wsgi_app(*handlers):
    """One WSGI app from peer handlers `handle(Request) -> Reply | None` (None: not my path)."""

    def app(environ, start_response):
        if environ.get("HTTP_TRANSFER_ENCODING"):  # wsgiref reads bodies by Content-Length only
            status, headers, body = reply(411, {"error": "send a Content-Length, not a chunked body"})
        else:
            request = Request.from_environ(environ)
            for handle in handlers:
                result = handle(request)
                if result is not None:
                    status, headers, body = result
                    break
            else:
                status, headers, body = reply(404, {"error": "not_found", "path": request.path})
        start_response(f"{status} {HTTPStatus(status).phrase}", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    return app


def guarded(errors: list, handle):
    """Run a peer's route; an exception becomes a 500 and is kept in `errors` for the tests."""
    try:
        return handle()
    except Exception as exc:  # a peer bug must show up in the test, not hang the client
        errors.append(traceback.format_exc())
        return reply(500, {"error": "server_error", "error_description": f"{type(exc).__name__}: {exc}"})


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    tls: ssl.SSLContext | None = None

    def finish_request(self, request, client_address):
        request.settimeout(30)
        if self.tls is not None:  # handshake here, in the request's thread
            request = self.tls.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        pass  # aborted connections and failed handshakes are the client's business


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class Served:
    """A running server: `.url` (scheme://host:port as bound) and `.close()`."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, tls: tuple | None = None):
        self.server = make_server(host, port, app, server_class=_Server, handler_class=_QuietHandler)
        scheme = "http"
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            self.server.tls = ctx
            self.server.base_environ["wsgi.url_scheme"] = scheme = "https"
        self.url = f"{scheme}://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ServedPeer:
    """A peer served in-process: `start()` binds its `handle` (WSGI request -> reply), `close()` stops."""

    url: str | None = None
    _served: Served | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0, tls: tuple | None = None):
        """Serve on host:port (plain http unless tls=(cert, key)); `url` defaults to that address."""
        self._served = Served(wsgi_app(self.handle), host, port, tls)
        self.url = self.url or self._served.url
        return self

    def close(self) -> None:
        if self._served:
            self._served.close()
            self._served = None


class AdminApi:
    """Test-only API of the peer server process (never of a real LMS):

      GET  /_test/ping                          200 when up
      POST /_test/rpc  {peer, method, args, kwargs}  -> {"result": ...} or 400 {"error": ...}

    `peer` names an object given here, `method` one of its REMOTE_METHODS. Every call needs
    `Authorization: Bearer <admin token>`: user servers share the peer's network in the e2e tier."""

    def __init__(self, token: str, peers: dict):
        self.token, self.peers, self.errors = token, peers, []

    def handle(self, request: Request) -> Reply | None:
        if not request.path.startswith("/_test/"):
            return None
        auth = request.headers.get("authorization", "")
        if not secrets.compare_digest(auth.encode(), f"Bearer {self.token}".encode()):
            return reply(401, {"error": "admin token required"})
        if request.path == "/_test/ping":
            return reply(200, {"ok": True})
        if request.path != "/_test/rpc" or request.method != "POST":
            return reply(404, {"error": "not_found"})
        return guarded(self.errors, lambda: self._call(request.json()))

    def _call(self, call: dict) -> Reply:
        peer = self.peers.get(call.get("peer"))
        if peer is None or call.get("method") not in peer.REMOTE_METHODS:
            return reply(400, {"error": f"no remote method {call.get('peer')}.{call.get('method')}"})
        try:
            result = getattr(peer, call["method"])(*call.get("args", []), **call.get("kwargs", {}))
        except (ValueError, KeyError, TypeError, AssertionError) as exc:
            return reply(400, {"error": f"{type(exc).__name__}: {exc}"})
        return reply(200, {"result": result})


class RemotePeer:
    """Client side of AdminApi for one peer: `remote.lineitems("ctx")` runs
    `peer.lineitems("ctx")` in the server process and returns its JSON result."""

    def __init__(self, session: requests.Session, base_url: str, token: str, name: str, methods):
        self._session, self._base, self._token, self._name, self._methods = session, base_url, token, name, methods

    def __getattr__(self, method: str):
        if method.startswith("_") or method not in self._methods:
            raise AttributeError(method)

        def call(*args, **kwargs):
            r = self._session.post(self._base + "/_test/rpc", json={"peer": self._name, "method": method,
                                                                    "args": list(args), "kwargs": kwargs},
                                   headers={"Authorization": f"Bearer {self._token}"}, timeout=60)
            if r.status_code == 400:
                raise ValueError(f"{self._name}.{method}: {r.json().get('error')}")
            r.raise_for_status()
            return r.json()["result"]

        return call
