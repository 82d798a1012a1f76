"""The peer server process: the LTI 1.3 platform, the LTI 1.1 consumer and the test-only admin
API (/_test/..., peer_http.AdminApi) in one server. The e2e tier runs it in a container on the
stack's users network (peer_container.py); it runs anywhere the peers' packages are installed:

  python3 serve.py --config CONFIG.json [--host 0.0.0.0] [--port 443] [--tls-cert F --tls-key F]

CONFIG.json: {"public_url": "https://<container name>", "admin_token": "<secret>",
              "lti13": {<Lti13Platform keyword arguments>}, "lti11": {"key": ..., "secret": ...}}
Omit "lti13" or "lti11" to leave that peer out. Prints "peers ready <url>" once it serves.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lti11_consumer import Lti11Consumer  # noqa: E402
from lti13_platform import Lti13Platform  # noqa: E402
from lms_pages import LmsPages  # noqa: E402
from peer_http import AdminApi, Served, wsgi_app  # noqa: E402


def build(config: dict):
    """(handlers for wsgi_app, {name: peer}) from a config document."""
    peers = {}
    if "lti13" in config:
        peers["lti13"] = Lti13Platform(public_url=config["public_url"], **config["lti13"])
    if "lti11" in config:
        peers["lti11"] = Lti11Consumer(config["lti11"]["key"], config["lti11"]["secret"], public_url=config["public_url"])
    peers["pages"] = LmsPages()  # course pages for a browser (lms_pages.py)
    admin = AdminApi(config["admin_token"], peers)
    return [admin.handle, *(p.handle for p in peers.values())], peers


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=443)
    parser.add_argument("--tls-cert", type=Path)
    parser.add_argument("--tls-key", type=Path)
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    handlers, _ = build(json.loads(args.config.read_text()))
    served = Served(wsgi_app(*handlers), args.host, args.port, (args.tls_cert, args.tls_key) if args.tls_cert else None)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):  # PID 1 in a container: no default SIGTERM action
        signal.signal(sig, lambda *_: stop.set())
    print(f"peers ready {served.url}", flush=True)
    stop.wait()
    served.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
