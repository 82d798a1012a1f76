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
# What a solution region becomes in the student version, per kernel language (the kernelspec's
# "language"). nbgrader has no stub for Julia and refuses to generate such an assignment; its R
# stub calls testthat's fail(), which base R lacks. The others are nbgrader's own.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()",
    "R": '# YOUR CODE HERE\nstop("No Answer Given!")',
    "julia": '# YOUR CODE HERE\nerror("No Answer Given!")',
    "matlab": "% YOUR CODE HERE\nerror('No Answer Given!')",
    "octave": "% YOUR CODE HERE\nerror('No Answer Given!')",
    "sas": "/* YOUR CODE HERE */\n %notImplemented;",
    "java": "// YOUR CODE HERE",
}
