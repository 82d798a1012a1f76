# iframe mode: the LMS origins in JHLTI_FRAME_ANCESTORS may frame this server, and its cookies
# are SameSite=None; Secure (jhlti_embedding). Unset: JupyterHub's defaults (no framing).
import jhlti_embedding

jhlti_embedding.configure(get_config())  # noqa: F821

# JupyterLab's Extension Manager shows the extensions the course image has (and enables or
# disables them) but installs none from PyPI: the course image decides them. Its PyPI client
# (httpx, an SSL context with the CA store) was 2-10% of a user server's start
# (test/bench/start_cpu.py, BENCHMARKS.md). Graders keep JupyterLab's default.
get_config().LabApp.extension_manager = "readonly"  # noqa: F821
