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
STAND_IN_IMAGES = [
    "localhost/jhlti-stand-in/jupyterhub:5.5.4",
    "localhost/jhlti-stand-in/configurable-http-proxy:5.3.0",
    "localhost/jhlti-stand-in/base-notebook:hub-5.5.4",
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
        problems.append("docker CLI not on PATH (run .ci/setup/all.sh)")
    elif run(["docker", "version", "--format", "{{.Server.Version}}"], check=False, quiet=True).returncode != 0:
        problems.append("no Docker engine answers (run .ci/setup/all.sh, which starts one)")
    else:
        for image in STAND_IN_IMAGES:
            if run(["docker", "image", "inspect", image], check=False, quiet=True).returncode != 0:
                problems.append(f"stand-in base image {image} missing (run .ci/setup/all.sh)")
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
    return problems


class Stack:
    """The `e2e` environment, deployed with `cdktf deploy` into its own output directory."""

    def __init__(self, config_file: Path):
        self.config_file = config_file
        self.terraform = os.environ.get("TERRAFORM_BINARY_NAME", "terraform")

    def env(self, **extra: str) -> dict:
        env = {
            **os.environ,
            "CHECKPOINT_DISABLE": "1",
            "CI": "1",
            "JHLTI_CONFIG": str(self.config_file),
            "JHLTI_BASE_IMAGES": "local",
        }
        if HOST_CA_BUNDLE.is_file():
            env["JHLTI_CA_BUNDLE"] = str(HOST_CA_BUNDLE)
        env.pop("JHLTI_PURGE_DATA", None)
        env.update(extra)
        return env

    def cdktf(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
        return run(["npx", "cdktf", *args, "--output", str(OUTDIR)], env=self.env(**extra_env))

    def deploy(self) -> None:
        self.cdktf("deploy", ENV, "--auto-approve", "--skip-provider-lock")

    def synth(self, **extra_env: str) -> None:
        self.cdktf("synth", **extra_env)

    def tf(self, *args: str, check: bool = True, quiet: bool = False, **extra_env) -> subprocess.CompletedProcess:
        return run([self.terraform, f"-chdir={STACK_DIR}", *args], env=self.env(**extra_env), check=check, quiet=quiet)

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

    def output(self, name: str, raw: bool = True) -> str:
        if raw:
            return self.tf("output", "-raw", name, quiet=True).stdout
        return json.loads(self.tf("output", "-json", name, quiet=True).stdout)

    def state_list(self) -> list[str]:
        return self.tf("state", "list", quiet=True).stdout.split()

    def remove_user_servers(self) -> list[str]:
        """DockerSpawner's containers are not in the state but sit on the stack's network."""
        servers = [n for n in names("container") if n.startswith(f"{PREFIX}-nb-")]
        if servers:
            docker("rm", "-f", *servers)
        return servers

    def destroy(self, *, purge: bool) -> None:
        """What `.ci/stack destroy e2e [--purge]` does: user servers first (they hold the
        network), then without --purge the protected data volumes leave the state, so
        destroy removes everything else and the volumes survive for the next deploy."""
        self.synth(**({"JHLTI_PURGE_DATA": "1"} if purge else {}))
        self.init()
        self.remove_user_servers()
        if not purge:
            for address in self.state_list():
                if address.startswith("docker_volume."):
                    say(f"    keeping {address}")
                    self.tf("state", "rm", address, quiet=True)
        extra = {"JHLTI_PURGE_DATA": "1"} if purge else {}
        self.cdktf("destroy", ENV, "--auto-approve", "--skip-provider-lock", **extra)
        if purge:  # the users' home volumes are DockerSpawner's, not in the state
            homes = [v for v in names("volume") if v.startswith(f"{PREFIX}-home-")]
            if homes:
                docker("volume", "rm", *homes)


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
