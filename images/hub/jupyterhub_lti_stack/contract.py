"""The runtime contract between the constructs and this image, as ``contract.json``.

``contract.json`` is generated from the TypeScript constructs (constructs/contract.ts and the
stack.json schema in constructs/stack-file.ts, ``npm run generate``); this module only reads it.
Every path, file name, port and limit the hub shares with the constructs comes from here.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

CONTRACT: dict[str, Any] = json.loads(resources.files(__package__).joinpath("contract.json").read_text("utf-8"))

VERSION: int = CONTRACT["contract_version"]
PATHS: dict[str, str] = CONTRACT["paths"]
PORTS: dict[str, int] = CONTRACT["ports"]
UID_BASE: int = CONTRACT["uid_base"]
START_CAPABILITIES: list[str] = CONTRACT["start_capabilities"]
SECRET_FILES: dict[str, str] = CONTRACT["secret_files"]
BUILT_IN_SERVICES: dict[str, str] = CONTRACT["built_in_services"]
PREWARM_DEFAULTS: dict[str, int] = CONTRACT["prewarm_defaults"]
URL_PATHS: dict[str, str] = CONTRACT["url_paths"]
CONTAINER_ENV: dict[str, str] = CONTRACT["container_env"]
SHARED_LAYOUT: dict[str, str] = CONTRACT["shared_layout"]
STACK_SCHEMA: dict[str, Any] = CONTRACT["stack_schema"]
