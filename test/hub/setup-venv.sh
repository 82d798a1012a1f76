#!/usr/bin/env bash
# Create or update the project-local virtualenv (.venv) for the hub-layer tests, plus
# configurable-http-proxy from npm (the proxy the hub talks to). Does nothing when
# neither the requirements nor this script changed since the last successful run.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/.venv"
# the proxy image's version (images/versions.json)
chp_version="$(node -p 'require(process.argv[1]).configurableHttpProxy' "$root/images/versions.json")"
python="${PYTHON:-python3}"

stamp="$(cat "$root/test/hub/requirements.txt" "$root/images/hub/requirements.txt" "$root/images/hub/pyproject.toml" "$0" \
  | { cat; echo "chp=$chp_version"; "$python" --version; } | sha256sum | cut -c1-16)"
if [[ -f "$venv/.jhlti-stamp" && "$(cat "$venv/.jhlti-stamp")" == "$stamp" ]]; then
  echo "hub test venv up to date ($venv)"
  exit 0
fi

"$python" -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 needed"'
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$root/test/hub/requirements.txt"
# The hub plugin as a package (images/hub/pyproject.toml), editable: tests import the sources.
"$venv/bin/python" -m pip install --quiet --no-deps --editable "$root/images/hub"
"$venv/bin/python" -c "import jupyterhub_lti_stack.contract"
npm install --silent --no-audit --no-fund --prefix "$venv/chp" "configurable-http-proxy@$chp_version"
test -x "$venv/chp/node_modules/.bin/configurable-http-proxy"
echo "$stamp" > "$venv/.jhlti-stamp"
echo "hub test venv ready ($venv)"
