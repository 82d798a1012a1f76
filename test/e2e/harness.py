"""Plumbing of the e2e tier: step timing, subprocesses, the Docker CLI, and the `e2e` stack
driven through the real cdktf CLI and Terraform (binary and CLI config from the environment)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from stack_config import ENV, PREFIX

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "test" / "hub"))  # the LTI test peers (lti_platform.py) are reused
WORK_DIR = ROOT / ".gen" / ENV  # config, test CA, cdktf output and Terraform state of this tier
OUTDIR = WORK_DIR / "cdktf.out"
STACK_DIR = OUTDIR / "stacks" / ENV
STATE_FILE = WORK_DIR / "state" / f"{ENV}.tfstate"  # the stack's local backend: ../../../state/<env>.tfstate
VERSIONS = json.loads((ROOT / "images" / "versions.json").read_text())  # the project's pins
STAND_IN_IMAGES = [
    f"localhost/jhlti-stand-in/jupyterhub:{VERSIONS['jupyterhub']}",
    f"localhost/jhlti-stand-in/configurable-http-proxy:{VERSIONS['configurableHttpProxy']}",
    f"localhost/jhlti-stand-in/base-notebook:hub-{VERSIONS['jupyterhub']}",
    f"localhost/jhlti-stand-in/r-notebook:hub-{VERSIONS['jupyterhub']}",
]
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

TIMINGS: list[tuple[str, float, bool]] = []  # (what, seconds, is a whole step)
PRINT = print  # conftest routes this past pytest's output capture


def say(message: str) -> None:
    PRINT(message)


@contextmanager
def timed(name: str, *, step: bool = True):
    """Print a step's start and wall time; record it for the final table. Parts of a step
    (step=False) are listed too but not added to the total."""
    say(f"\n==> {name}" if step else f"    -> {name}")
    t0 = time.monotonic()
    try:
        yield
    finally:
        seconds = time.monotonic() - t0
        TIMINGS.append((name, seconds, step))
        say(f"<== {name}: {seconds:.1f} s" if step else f"    <- {name}: {seconds:.1f} s")


def record_time(name: str, seconds: float) -> None:
    TIMINGS.append((name, seconds, False))


class CommandFailed(AssertionError):
    pass


def run(cmd: list[str], *, env: dict | None = None, check: bool = True, quiet: bool = False,
        timeout: float = 1200, input: str | None = None) -> subprocess.CompletedProcess:
    if not quiet:
        say("    $ " + shlex.join(cmd))
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, input=input)
    if check and p.returncode != 0:
        raise CommandFailed(f"{shlex.join(cmd)} exited {p.returncode}\n--- stdout\n{p.stdout[-6000:]}\n--- stderr\n{p.stderr[-6000:]}")
    return p


def docker(*args: str, check: bool = True, quiet: bool = True, timeout: float = 300) -> str:
    return run(["docker", *args], check=check, quiet=quiet, timeout=timeout).stdout.strip()


def docker_exec(container: str, script: str, *, user: str | int | None = None, workdir: str | None = None,
                env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run a bash script inside a container (as `user`), the way a user's terminal would."""
    cmd = ["docker", "exec"]
    if user is not None:
        cmd += ["-u", str(user)]
    if workdir:
        cmd += ["-w", workdir]
    for k, v in (env or {}).items():
        cmd += ["-e", f"{k}={v}"]
    cmd += [container, "bash", "-c", script]
    return run(cmd, check=check, quiet=True)


def inspect(obj: str, fmt: str = "{{json .}}") -> object:
    out = docker("inspect", "--format", fmt, obj)
    return json.loads(out) if fmt.startswith("{{json") else out


def names(kind: str) -> list[str]:
    """Names of the stack's Docker objects of one kind (container, network, volume)."""
    if kind == "container":
        out = docker("ps", "-a", "--format", "{{.Names}}")
    else:
        out = docker(kind, "ls", "--format", "{{.Name}}")
    return sorted(n for n in out.splitlines() if n.startswith(PREFIX + "-"))


def prerequisite_problems() -> list[str]:
    """Everything the tier needs; any problem fails the tier (never a skip)."""
    problems = []
    if not shutil.which("docker"):
        problems.append("docker CLI not on PATH (run bin/setup/all.sh)")
    elif run(["docker", "version", "--format", "{{.Server.Version}}"], check=False, quiet=True).returncode != 0:
        problems.append("no Docker engine answers (run bin/setup/all.sh, which starts one)")
    else:
        for image in STAND_IN_IMAGES:
            if run(["docker", "image", "inspect", image], check=False, quiet=True).returncode != 0:
                problems.append(f"stand-in base image {image} missing (run bin/setup/all.sh)")
    tf = os.environ.get("TERRAFORM_BINARY_NAME")
    if not tf:
        problems.append("TERRAFORM_BINARY_NAME is not set (source ~/.cache/jupyterhub-lti-stack/env.sh)")
    elif not shutil.which(tf):
        problems.append(f"TERRAFORM_BINARY_NAME={tf} is not an executable")
    rc = os.environ.get("TF_CLI_CONFIG_FILE")
    if not rc:
        problems.append("TF_CLI_CONFIG_FILE is not set (the provider mirror config; source env.sh)")
    elif not Path(rc).is_file():
        problems.append(f"TF_CLI_CONFIG_FILE={rc} does not exist")
    if not (ROOT / "node_modules" / ".bin" / "cdktf").exists():
        problems.append("cdktf CLI missing: run npm ci")
    if not shutil.which("docker-registry"):
        problems.append("docker-registry missing (the online install's loopback registry; bin/setup/registry.sh installs Debian's)")
    if not shutil.which("chromium"):
        problems.append("chromium missing (the browser tests' browser; bin/setup/all.sh installs Debian's)")
    if not (ROOT / "node_modules" / "playwright-core").is_dir():
        problems.append("playwright-core missing: run npm ci")
    return problems


CLI = ROOT / "lib" / "bin" / "jupyterhub-lti-stack.js"  # the package's operator CLI (npm run build)


class Stack:
    """The `e2e` environment, deployed, destroyed and read through the package's own CLI
    (bin/jupyterhub-lti-stack.ts, as `npm run deploy` etc. run it) into its own output directory."""

    def __init__(self, config_file: Path, *, name: str = ENV, outdir: Path = OUTDIR, engine_env: dict | None = None):
        self.config_file = config_file
        self.name = name
        self.outdir = outdir
        self.stack_dir = outdir / "stacks" / name
        self.engine_env = dict(engine_env or {})  # e.g. DOCKER_HOST of a swarm's manager
        self.terraform = os.environ.get("TERRAFORM_BINARY_NAME", "terraform")

    def env(self, **extra: str) -> dict:
        env = {**os.environ, "CHECKPOINT_DISABLE": "1", "CI": "1"}
        if HOST_CA_BUNDLE.is_file():
            env["JHLTI_CA_BUNDLE"] = str(HOST_CA_BUNDLE)
        for name in ("JHLTI_PURGE_DATA", "JHLTI_CONFIG", "JHLTI_BASE_IMAGES", "CDKTF_OUTDIR"):
            env.pop(name, None)
        env.update(self.engine_env)
        env.update(extra)
        return env

    def cli(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
        """The CLI as an operator runs it; the toolchain is prepared by test/run already."""
        return run(["node", str(CLI), *args, "--config", str(self.config_file), "--output", str(self.outdir),
                    "--base-images", "local", "--skip-setup"], env=self.env(**extra_env), timeout=1800)

    def deploy(self) -> None:
        self.cli("deploy", self.name)

    def synth(self, **extra_env: str) -> None:
        self.cli("synth", **extra_env)

    def tf(self, *args: str, check: bool = True, quiet: bool = False, **extra_env) -> subprocess.CompletedProcess:
        return run([self.terraform, f"-chdir={self.stack_dir}", *args], env=self.env(**extra_env), check=check, quiet=quiet)

    def init(self) -> None:
        self.tf("init", "-input=false", quiet=True)

    def plan_exitcode(self) -> tuple[int, str]:
        """`terraform plan -detailed-exitcode`: 0 no changes, 2 changes, 1 error."""
        p = self.tf("plan", "-detailed-exitcode", "-input=false", "-no-color", check=False)
        if p.returncode == 1:
            raise CommandFailed(f"terraform plan failed:\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")
        return p.returncode, p.stdout

    def plan_changes(self) -> list[dict]:
        """Resource changes of a plan of the synthesized config (terraform show -json)."""
        self.tf("plan", "-input=false", "-no-color", "-out=e2e.tfplan", quiet=False)
        shown = json.loads(self.tf("show", "-json", "e2e.tfplan", quiet=True).stdout)
        return [c for c in shown.get("resource_changes", []) if c["change"]["actions"] != ["no-op"]]

    def outputs(self, *, secrets: bool = False) -> dict:
        """`outputs e2e --json [--show-secrets]` of the CLI."""
        args = ["outputs", self.name, "--json"] + (["--show-secrets"] if secrets else [])
        return json.loads(self.cli(*args).stdout)

    def output(self, name: str) -> str:
        return self.outputs(secrets=True)[name]

    def state_list(self) -> list[str]:
        return self.tf("state", "list", quiet=True).stdout.split()

    def destroy(self, *, purge: bool) -> None:
        """`destroy e2e [--purge]` of the CLI: user servers first (they hold the network), then
        without --purge the protected data volumes leave the state and survive."""
        self.cli("destroy", self.name, *(["--purge"] if purge else []))


def wipe_everything(*, keep_work_dir: bool = False) -> None:
    """Remove every Docker object of the e2e environment and the tier's work directory, so a
    stale stack of a failed run cannot break this one. Images stay (they are the warm cache)."""
    for kind in ("container", "network", "volume"):
        found = names(kind)
        if found:
            say(f"    removing stale {kind}s: {' '.join(found)}")
            if kind == "network":
                docker("network", "rm", *found)
            else:
                docker(kind, "rm", "-f", *found)
    if WORK_DIR.exists() and not keep_work_dir:
        shutil.rmtree(WORK_DIR)
