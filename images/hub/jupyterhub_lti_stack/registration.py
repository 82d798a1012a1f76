"""What an LMS reads to register the tool: the LTI 1.1 configuration XML, the LTI 1.3
configuration JSON and the tool's public keyset (JWKS).

Every URL in them comes from the stack's public URL and the contract's URL paths, never from
the request (behind the proxy the request's host and scheme are whatever the client sent).
ltiauthenticator's own config handlers assume its LTI11Authenticator / login URL, which this
stack replaces, so they are not used.
"""

from __future__ import annotations

import json
from urllib.parse import urlparse
from xml.sax.saxutils import escape

from jupyterhub.handlers import BaseHandler

from .contract import URL_PATHS
from .keys import jwks
from .launch import NRPS_SCOPE
from .passback import AGS_LINEITEM, AGS_SCORE
from .stack import Stack

# Exactly what grade passback asks the platform's token endpoint for (passback.py).
AGS_SCOPES = (AGS_LINEITEM, AGS_SCORE)
DESCRIPTION = "Jupyter notebooks with nbgrader assignments, one server per student"
CANVAS = "canvas.instructure.com"

RESOURCE_LINK, DEEP_LINKING = "LtiResourceLinkRequest", "LtiDeepLinkingRequest"


def tool_title(stack: Stack) -> str:
    return f"JupyterHub ({stack.environment})"


def url(stack: Stack, path_key: str) -> str:
    return stack.public_url.rstrip("/") + URL_PATHS[path_key]


def lti11_config_xml(stack: Stack) -> str:
    """IMS Common Cartridge basic LTI link (what Canvas "By URL" and Moodle read)."""
    launch = escape(url(stack, "lti11_launch"))
    host = escape(urlparse(stack.public_url).hostname or "")
    window = "_self" if stack.frame_ancestors else "_blank"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<cartridge_basiclti_link xmlns="http://www.imsglobal.org/xsd/imslticc_v1p0"
    xmlns:blti="http://www.imsglobal.org/xsd/imsbasiclti_v1p0"
    xmlns:lticm="http://www.imsglobal.org/xsd/imslticm_v1p0"
    xmlns:lticp="http://www.imsglobal.org/xsd/imslticp_v1p0"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="http://www.imsglobal.org/xsd/imslticc_v1p0 http://www.imsglobal.org/xsd/lti/ltiv1p0/imslticc_v1p0.xsd http://www.imsglobal.org/xsd/imsbasiclti_v1p0 http://www.imsglobal.org/xsd/lti/ltiv1p0/imsbasiclti_v1p0p1.xsd http://www.imsglobal.org/xsd/imslticm_v1p0 http://www.imsglobal.org/xsd/lti/ltiv1p0/imslticm_v1p0.xsd http://www.imsglobal.org/xsd/imslticp_v1p0 http://www.imsglobal.org/xsd/lti/ltiv1p0/imslticp_v1p0.xsd">
  <blti:title>{escape(tool_title(stack))}</blti:title>
  <blti:description>{escape(DESCRIPTION)}</blti:description>
  <blti:launch_url>{launch}</blti:launch_url>
  <blti:secure_launch_url>{launch}</blti:secure_launch_url>
  <blti:extensions platform="{CANVAS}">
    <lticm:property name="privacy_level">anonymous</lticm:property>
    <lticm:property name="domain">{host}</lticm:property>
    <lticm:options name="course_navigation">
      <lticm:property name="enabled">true</lticm:property>
      <lticm:property name="text">{escape(tool_title(stack))}</lticm:property>
      <lticm:property name="windowTarget">{window}</lticm:property>
    </lticm:options>
  </blti:extensions>
  <cartridge_bundle identifierref="BLTI001_Bundle"/>
  <cartridge_icon identifierref="BLTI001_Icon"/>
</cartridge_basiclti_link>
"""


def lti13_config(stack: Stack) -> dict:
    """The tool's LTI 1.3 configuration, in the shape Canvas reads from a developer key's
    "Enter URL" (required: title, description, target_link_uri, oidc_initiation_url, a public
    key; the Canvas extension with privacy_level and placements). Other platforms take the same
    URLs by hand.

    target_link_uri is the redirect URI itself: the hub lands every launch in the launching
    course's server whatever target it names, and platforms that default the allowed redirect
    URIs to the launch URL (Canvas keys made from this JSON, Open edX blocks) then accept the
    tool's authentication request without a second URL. No tool-wide custom fields: the hub
    reads only the per-link ones (`image`, and `assignment` for LTI 1.1 grades)."""
    launch = url(stack, "lti13_callback")
    title = tool_title(stack)
    placements = [
        # Navigation tabs are the one placement whose new-tab setting Canvas takes from the
        # tool; assignments and module items have their own "load in a new tab" box.
        {"placement": "course_navigation", "text": title,
         **({} if stack.frame_ancestors else {"windowTarget": "_blank"})},
        # Where an instructor adds content: Canvas asks the tool which (LTI Deep Linking), and
        # the hub offers the course's nbgrader assignments (deep_linking.py).
        {"placement": "assignment_selection", "text": title, "message_type": DEEP_LINKING},
        {"placement": "link_selection", "text": title, "message_type": DEEP_LINKING},
    ]
    return {
        "title": title,
        "description": DESCRIPTION,
        "oidc_initiation_url": url(stack, "lti13_login"),
        "target_link_uri": launch,
        "redirect_uris": [launch],
        "public_jwk_url": url(stack, "lti13_jwks"),
        # The roster (names and roles) only where a course is pre-warmed on a schedule (roster.py).
        "scopes": list(AGS_SCOPES) + ([NRPS_SCOPE] if any(c.prewarm is not None for c in stack.courses) else []),
        "extensions": [
            {
                "platform": CANVAS,
                "domain": urlparse(stack.public_url).hostname,
                # The hub keys users on the platform's user id (sub); names and e-mail are not
                # needed, and Canvas always sends sub.
                "privacy_level": "anonymous",
                "settings": {
                    "text": title,
                    "placements": [
                        {"message_type": RESOURCE_LINK, **p, "target_link_uri": launch} for p in placements
                    ],
                },
            }
        ],
    }


class _StackHandler(BaseHandler):
    """A public page about this hub's registration: no login, no XSRF (GET only)."""

    @property
    def stack(self) -> Stack:
        return self.authenticator.stack


class Lti11ConfigHandler(_StackHandler):
    def get(self):
        self.set_header("Content-Type", "application/xml; charset=utf-8")
        self.finish(lti11_config_xml(self.stack))


class Lti13ConfigHandler(_StackHandler):
    def get(self):
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(lti13_config(self.stack), indent=2))


class JwksHandler(_StackHandler):
    def get(self):
        self.set_header("Content-Type", "application/json; charset=utf-8")
        # Platforms cache keysets; a rotation publishes the new key before it signs.
        self.set_header("Cache-Control", "public, max-age=300")
        self.finish(json.dumps(jwks(self.authenticator.signing_keys)))
