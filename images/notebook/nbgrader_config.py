# Global nbgrader configuration of every course image (installed as /etc/jupyter/nbgrader_config.py).
# One exchange volume serves all courses; nbgrader's Unix permissions keep students apart,
# which holds because every user's server runs with its own uid (jhlti-start, NB_UID).
from jhlti_nbgrader import contract
from nbgrader.auth import JupyterHubAuthPlugin

c = get_config()  # noqa: F821
c.Exchange.root = contract()["paths"]["exchange_root"]
c.Exchange.path_includes_course = True
# Course membership comes from the hub groups nbgrader-<course> / formgrade-<course>.
c.Authenticator.plugin_class = JupyterHubAuthPlugin
