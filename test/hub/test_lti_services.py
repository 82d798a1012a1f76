"""The hub's client of LTI 1.3 platform services (lti_services.ServiceClient), used by grade passback
and the course roster, against the peer platform's strict token endpoint (test/peers, lti1p3platform
keys): tokens by the client-credentials grant with the tool's signed assertion, cached per scopes,
forgotten when the platform refuses one; every failure names the service it was for and says
whether trying again can help."""

from __future__ import annotations

import asyncio
import socket
from types import SimpleNamespace

import pytest
from lti13_platform import Lti13Platform
from peer_testkit import CLIENT_ID, DEPLOYMENT_ID, ISSUER, ToolKeys

from jupyterhub_lti_stack.keys import SigningKey
from jupyterhub_lti_stack.lti_services import ServiceClient, ServiceError
from jupyterhub_lti_stack.stack import Lti13, Lti13Platform as Registration

AGS = ("https://purl.imsglobal.org/spec/lti-ags/scope/lineitem", "https://purl.imsglobal.org/spec/lti-ags/scope/score")
NRPS = ("https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",)


@pytest.fixture
def peer():
    keys = ToolKeys()
    keys.serve()
    platform = Lti13Platform(issuer=ISSUER, client_id=CLIENT_ID, deployment_id=DEPLOYMENT_ID, tool_jwks_url=keys.url,
                             offered_scopes=AGS + NRPS).start()
    yield platform, keys
    platform.close()
    keys.served.close()
    assert platform.internal_errors() == []


def stack_of(platform, token_url: str | None) -> SimpleNamespace:
    registration = Registration(issuer=platform.issuer, client_ids=(CLIENT_ID,), authorize_url=platform.authorize_url,
                                jwks_url=platform.jwks_url, deployment_ids=(), token_url=token_url)
    return SimpleNamespace(lti13=Lti13(enabled=True, platforms=(registration,), dynamic_registration=False, signing_keys=()))


def client_of(stack, keys: ToolKeys) -> ServiceClient:
    _, key = keys.keys[0]
    return ServiceClient(stack, (SigningKey("tool", key, keys.jwk(key)),))


def failure(coroutine) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        asyncio.run(coroutine)
    return caught.value


def test_tokens_are_granted_cached_per_scopes_and_renewed_after_a_refusal(peer):
    platform, keys = peer
    platform.enroll("c", "u")

    async def run():
        client = client_of(stack_of(platform, platform.token_url), keys)
        first = await client.access_token(ISSUER, CLIENT_ID, AGS, "grade passback")
        assert await client.access_token(ISSUER, CLIENT_ID, AGS, "grade passback") == first
        roster = await client.access_token(ISSUER, CLIENT_ID, NRPS, "the course roster")
        assert roster != first
        auth = {"Authorization": f"Bearer {first}"}
        code, _, _ = await client.request(platform.lineitems_url("c"), headers=auth)
        assert code == 200
        assert platform.revoke_tokens() == 2  # an LMS restart
        code, _, _ = await client.request(platform.lineitems_url("c"), headers=auth)
        assert code == 401
        renewed = await client.access_token(ISSUER, CLIENT_ID, AGS, "grade passback")
        assert renewed != first
        code, _, _ = await client.request(platform.lineitems_url("c"), headers={"Authorization": f"Bearer {renewed}"})
        assert code == 200

    asyncio.run(run())
    granted = [entry["granted"] for entry in platform.token_log(rejected=False)]
    assert granted == [" ".join(AGS), NRPS[0], " ".join(AGS)]
    assert platform.token_log(rejected=True) == []


def test_a_platform_without_a_token_url_names_the_service_and_the_setting(peer):
    platform, keys = peer

    async def run():
        await client_of(stack_of(platform, None), keys).access_token(ISSUER, CLIENT_ID, NRPS, "the course roster")

    error = failure(run())
    assert str(error).startswith("the course roster cannot run: no tokenUrl for the LTI 1.3 platform")
    assert "lti13.platforms[].tokenUrl" in str(error) and "grade passback" not in str(error)
    assert error.retry is False
    assert platform.token_log() == []


def test_a_platform_no_longer_configured_is_named(peer):
    platform, keys = peer

    async def run():
        await client_of(stack_of(platform, platform.token_url), keys).access_token("https://gone.example", CLIENT_ID, AGS, "grade passback")

    error = failure(run())
    assert str(error).startswith("grade passback: the launch came from https://gone.example")
    assert error.retry is False


@pytest.mark.parametrize("status, retry_after, retry", [(503, None, True), (429, 30, True), (400, None, False)])
def test_token_endpoint_errors_say_whether_to_try_again(peer, status, retry_after, retry):
    platform, keys = peer
    platform.faults.set("token", status, retry_after=retry_after)

    async def run():
        await client_of(stack_of(platform, platform.token_url), keys).access_token(ISSUER, CLIENT_ID, NRPS, "the course roster")

    error = failure(run())
    assert str(error).startswith(f"the course roster: token endpoint: HTTP {status}")
    assert error.retry is retry
    assert error.retry_after == (float(retry_after) if retry_after else None)


def test_an_unreachable_token_endpoint_can_be_tried_again(peer):
    platform, keys = peer
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/token"

    async def run():
        await client_of(stack_of(platform, closed), keys).access_token(ISSUER, CLIENT_ID, AGS, "grade passback")

    error = failure(run())
    assert error.retry is True and closed in str(error)
