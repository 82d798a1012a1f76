# JupyterHub configuration for jupyterhub-lti-stack.
# Deployment facts come from stack.json and the secrets directory written by Terraform; paths and
# file names from the contract both sides share (images/CONTRACT.md); the logic lives in the
# jupyterhub_lti_stack package.
import logging
import secrets as token_source

from docker.types import RestartPolicy
from jupyterhub_lti_stack import hub, passback, prewarm, roster
from jupyterhub_lti_stack.auth import LtiStackAuthenticator
from jupyterhub_lti_stack.contract import PATHS, SECRET_FILES, SHARED_LAYOUT, START_CAPABILITIES
from jupyterhub_lti_stack.keys import load_signing_keys
from jupyterhub_lti_stack.spawner import NO_HEALTHCHECK, CourseDockerSpawner, CourseSwarmSpawner, prepare_shared_directories
from jupyterhub_lti_stack.stack import load_secrets, load_stack, stack_path

c = get_config()  # noqa: F821
stack = load_stack()
secrets = load_secrets(stack)

# Hub, behind a separately running configurable-http-proxy that terminates TLS
c.JupyterHub.public_url = stack.public_url
c.JupyterHub.hub_bind_url = stack.hub_bind_url
c.JupyterHub.hub_connect_url = stack.hub_connect_url
c.JupyterHub.db_url = "sqlite:///" + PATHS["hub_database"]
hub.write_ahead_log(lambda: c.JupyterHub.db_url, log=logging.getLogger("JupyterHub"))  # fewer fsyncs per launch
c.JupyterHub.cookie_secret = bytes.fromhex(secrets[SECRET_FILES["cookie_secret"]])
c.JupyterHub.cleanup_servers = False  # redeploying the hub keeps notebooks running
c.ConfigurableHTTPProxy.should_start = False
c.ConfigurableHTTPProxy.api_url = stack.proxy_api_url
c.ConfigurableHTTPProxy.auth_token = secrets[SECRET_FILES["proxy_token"]]
# The pre-warm service's token: made at each start, never stored; the instructors' trigger
# (prewarm.PrewarmHandler) acts with it too.
prewarm_token = token_source.token_hex(32)
c.JupyterHub.tornado_settings = {**hub.tornado_settings(stack), prewarm.TOKEN_SETTING: prewarm_token}

# LTI 1.1 and/or LTI 1.3 launches, mapped to declared courses
c.JupyterHub.authenticator_class = LtiStackAuthenticator
c.Authenticator.allow_all = True  # the LMS decides who launches; unknown courses are refused
c.Authenticator.enable_auth_state = True
c.CryptKeeper.keys = [bytes.fromhex(secrets[SECRET_FILES["crypt_key"]])]
c.LtiStackAuthenticator.stack = stack
c.LtiStackAuthenticator.uri_scheme = hub.uri_scheme(stack)
c.LtiStackAuthenticator.lti11_enabled = stack.lti11.enabled
if stack.lti11.enabled:
    c.LtiStackAuthenticator.consumers = {
        secrets[SECRET_FILES["lti11_consumer_key"]]: secrets[SECRET_FILES["lti11_shared_secret"]]
    }
c.LtiStackAuthenticator.lti13_enabled = stack.lti13.enabled
if stack.lti13.enabled:
    # The platforms (issuer, client ids, endpoints, deployments) come from the stack: each
    # launch is checked against the one it names (auth.py). User names: LaunchStore.lti13_username.
    c.LtiStackAuthenticator.username_key = "sub"
    # The tool's keys: the JWKS platforms register, and what signs its service requests.
    c.LtiStackAuthenticator.signing_keys = load_signing_keys(stack)
c.LtiStackAuthenticator.launch_db = PATHS["hub_launch_db"]

# Grade passback: the graders post their courses' scores to the hub (passback.py)
c.JupyterHub.extra_handlers = passback.handlers() + prewarm.handlers() + roster.handlers()

# Course groups, formgrader services and their roles exist before the first launch
c.JupyterHub.load_groups = hub.groups(stack)
c.JupyterHub.load_roles = hub.roles(stack)
c.JupyterHub.services = hub.services(stack, secrets, prewarm_token, str(stack_path()))

# One server per (user, course): named servers, each from its course's image, limits and idle
# timeout (spawner.py), with the user's own uid; a launch lands in its course's server
c.JupyterHub.allow_named_servers = True
c.CourseSpawnerMixin.stack = stack
# A start-of-class rush on a small host: N servers boot at once and share its cores, so the
# N-th needs ~N x the single start time; the defaults (60 s / 30 s) failed most launches
# at N = 20 on 2 cores (test/bench, BENCHMARKS.md).
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
# nbgrader in the user's server reads only the user's own groups (its courses; jhlti_nbgrader's
# Course List). No services scopes: JupyterHub grants a server token only scopes its user holds.
c.Spawner.server_token_scopes = ["users:activity!user", "access:servers!server", "read:users:groups!user"]
c.DockerSpawner.network_name = stack.docker.network
c.DockerSpawner.use_internal_ip = True
c.DockerSpawner.name_template = stack.docker.server_name_template
c.DockerSpawner.cmd = [PATHS["start_script"]]
if stack.swarm is None:
    c.JupyterHub.spawner_class = CourseDockerSpawner
    c.DockerSpawner.remove = True  # the home volume outlives the container (services are always removed)
    c.DockerSpawner.volumes = {
        stack.docker.home_volume_template: PATHS["home"],
        stack.docker.exchange_volume: PATHS["exchange_root"],
    }
    c.CourseDockerSpawner.legacy_home_template = stack.docker.legacy_home_volume_template
    c.DockerSpawner.pull_policy = "never"  # images are built by Terraform before any spawn
    # jhlti-start begins as root only to hand its home to NB_UID, then drops every privilege;
    # no health check (spawner.NO_HEALTHCHECK; also for allowedImages the stack does not build).
    c.DockerSpawner.extra_create_kwargs = {"user": "0", "healthcheck": NO_HEALTHCHECK}
    c.DockerSpawner.extra_host_config = {
        "cap_drop": ["ALL"],
        "cap_add": list(START_CAPABILITIES),
        "security_opt": ["no-new-privileges"],
    }
else:
    # engine "swarm": a service per course server on the cluster's nodes, its home and the
    # exchange on the shared filesystem (spawner.py), the images pulled by the nodes from the
    # registry Terraform pushed them to.
    for made in prepare_shared_directories(stack):
        print(f"jupyterhub-lti-stack: made {made} on the shared filesystem", flush=True)
    c.JupyterHub.spawner_class = CourseSwarmSpawner
    c.CourseSpawnerMixin.uid_map_dir = stack.swarm.hub_path(SHARED_LAYOUT["uid_map"])
    c.LtiStackAuthenticator.courses_root = stack.swarm.hub_path(SHARED_LAYOUT["courses"])
    c.SwarmSpawner.pull_policy = "skip"  # each node pulls from the registry
    c.SwarmSpawner.extra_create_kwargs = {}
    c.SwarmSpawner.extra_endpoint_spec = {"mode": stack.swarm.endpoint_mode}
    c.SwarmSpawner.extra_placement_spec = {"constraints": list(stack.swarm.constraints)}
    # jhlti-start begins as root only to hand its home to NB_UID, then drops every privilege.
    # (Swarm services take no security options: no-new-privileges is the single-host extra.)
    c.SwarmSpawner.extra_container_spec = {
        "user": "0",
        "cap_drop": ["ALL"],
        "cap_add": [f"CAP_{cap}" for cap in START_CAPABILITIES],
        "healthcheck": NO_HEALTHCHECK,
    }
    # A server that stops itself (idle) stays stopped; one whose node fails is started again elsewhere.
    c.SwarmSpawner.extra_task_spec = {"restart_policy": RestartPolicy(condition="on-failure", max_attempts=3)}
