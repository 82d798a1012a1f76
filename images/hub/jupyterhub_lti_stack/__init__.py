"""Hub application layer of jupyterhub-lti-stack.

The Terraform constructs describe the deployment in ``stack.json`` (no secrets) and a
secrets directory; this package turns those into JupyterHub settings and adds what
ltiauthenticator leaves to us: mapping LTI roles and contexts to nbgrader courses.
"""

__version__ = "0.2.0"
