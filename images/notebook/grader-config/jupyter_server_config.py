# iframe mode: the LMS origins in JHLTI_FRAME_ANCESTORS may frame this server, and its cookies
# are SameSite=None; Secure (jhlti_embedding). Unset: JupyterHub's defaults (no framing).
import jhlti_embedding

jhlti_embedding.configure(get_config())  # noqa: F821
