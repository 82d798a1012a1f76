"""Role, course and image mapping on launch payloads shaped as Canvas, Moodle and Open edX send them."""

from dataclasses import replace

import pytest

from jupyterhub_lti_stack.launch import (
    INSTRUCTOR, STUDENT, choose_image, course_groups, course_role, lti11_launch, lti13_launch,
)
from jupyterhub_lti_stack.stack import parse_stack
from test_stack import golden

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
LIS = "http://purl.imsglobal.org/vocab/lis/v2/"

# A course as the constructs write it (golden fixture), with images and a context of this test's own.
COURSE = replace(parse_stack(golden("hubtest")).course("intro101"), title="Intro", context_ids=("ctx-1",),
                 image="img/default:1", allowed_images=("img/r:1",))

# LTI 1.1 form fields (oauth_* already stripped, as in ltiauthenticator's auth_state)
CANVAS_11_TEACHER = {
    "user_id": "535fa085f22b4655f48cd5a36a9215f64c062838",
    "custom_canvas_user_id": "2",
    "roles": "Instructor",
    "ext_roles": "urn:lti:instrole:ims/lis/Instructor,urn:lti:role:ims/lis/Instructor,urn:lti:sysrole:ims/lis/User",
    "context_id": "4dde05e8ca1973bcca9bffc13e1548820eee93a3",
    "context_label": "INTRO",
    "context_title": "Introduction",
    "lti_message_type": "basic-lti-launch-request",
    "lti_version": "LTI-1p0",
    "resource_link_id": "e2d1b1c2f0e1",
    "tool_consumer_info_product_family_code": "canvas",
    "launch_presentation_document_target": "window",
}
CANVAS_11_TA = {**CANVAS_11_TEACHER, "roles": "urn:lti:role:ims/lis/TeachingAssistant"}
CANVAS_11_STUDENT = {
    **CANVAS_11_TEACHER,
    "user_id": "86157096483e6b3a50bfedc6bac902c0b20a824f",
    "roles": "Learner",
    "ext_roles": "urn:lti:instrole:ims/lis/Student,urn:lti:role:ims/lis/Learner,urn:lti:sysrole:ims/lis/User",
    "custom_image": "img/r:1",
}
MOODLE_11_ADMIN = {
    "user_id": "2", "roles": "Instructor,urn:lti:sysrole:ims/lis/Administrator,urn:lti:instrole:ims/lis/Administrator",
    "context_id": "3", "context_label": "TC101", "lti_message_type": "basic-lti-launch-request",
    "lti_version": "LTI-1p0", "resource_link_id": "1", "ext_lms": "moodle-2",
    "tool_consumer_info_product_family_code": "moodle",
}
MOODLE_11_STUDENT = {**MOODLE_11_ADMIN, "user_id": "5", "roles": "Learner"}
EDX_11_STAFF = {
    "user_id": "bd2d6a5b8a6e4e1c9a3f2a5f6b7c8d9e", "roles": "Instructor",
    "context_id": "course-v1:edX+DemoX+Demo_Course", "context_label": "edX",
    "lti_message_type": "basic-lti-launch-request", "lti_version": "LTI-1p0",
    "resource_link_id": "courses.edx.org-8ef3bb1b2ab64a4d9c62d1e0c8d2a6f3",
}
EDX_11_STUDENT = {**EDX_11_STAFF, "user_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "roles": "Student"}


def lti13_token(sub, roles, context_id="ctx-1", custom=None):
    token = {
        "iss": "https://canvas.instructure.com", "aud": "10000000000001", "sub": sub,
        CLAIM + "version": "1.3.0", CLAIM + "message_type": "LtiResourceLinkRequest",
        CLAIM + "deployment_id": "1:8865aa05b4b79b64a91a86042e43af5ea8ae79eb",
        CLAIM + "roles": roles,
        CLAIM + "context": {"id": context_id, "label": "INTRO", "title": "Introduction",
                            "type": [LIS + "course#CourseOffering"]},
        CLAIM + "resource_link": {"id": "rl-1"},
    }
    if custom is not None:
        token[CLAIM + "custom"] = custom
    return token


CANVAS_13_TEACHER = lti13_token(
    "535fa085f22b4655f48cd5a36a9215f64c062838",
    [LIS + "institution/person#Instructor", LIS + "membership#Instructor", LIS + "system/person#User"],
)
CANVAS_13_TA = lti13_token("ta-1", [LIS + "membership/Instructor#TeachingAssistant", LIS + "system/person#User"])
CANVAS_13_STUDENT = lti13_token(
    "86157096483e6b3a50bfedc6bac902c0b20a824f",
    [LIS + "institution/person#Student", LIS + "membership#Learner", LIS + "system/person#User"],
    custom={"image": "img/r:1"},
)
# A faculty member enrolled as a learner: the institution role must not make them teach.
CANVAS_13_FACULTY_LEARNER = lti13_token(
    "faculty-1", [LIS + "institution/person#Instructor", LIS + "membership#Learner"]
)
MOODLE_13_ADMIN = lti13_token(
    "2", [LIS + "institution/person#Administrator", LIS + "membership#Instructor", LIS + "system/person#Administrator"],
)
MOODLE_13_SITE_ADMIN_ONLY = lti13_token("2", [LIS + "system/person#Administrator"])
MOODLE_13_STUDENT = lti13_token("5", [LIS + "membership#Learner"])
EDX_13_STAFF = lti13_token("a1b2c3", [LIS + "membership#Instructor"], context_id="course-v1:edX+DemoX+Demo_Course")
EDX_13_STUDENT = lti13_token("d4e5f6", [LIS + "membership#Learner"], context_id="course-v1:edX+DemoX+Demo_Course")
PEER_INSTRUCTOR = lti13_token("peer", [LIS + "membership/Learner#Instructor"])


@pytest.mark.parametrize(
    "payload, role",
    [
        (CANVAS_11_TEACHER, INSTRUCTOR), (CANVAS_11_TA, INSTRUCTOR), (CANVAS_11_STUDENT, STUDENT),
        (MOODLE_11_ADMIN, INSTRUCTOR), (MOODLE_11_STUDENT, STUDENT),
        (EDX_11_STAFF, INSTRUCTOR), (EDX_11_STUDENT, STUDENT),
    ],
)
def test_lti11_roles(payload, role):
    assert course_role(lti11_launch(payload).roles) == role


@pytest.mark.parametrize(
    "payload, role",
    [
        (CANVAS_13_TEACHER, INSTRUCTOR), (CANVAS_13_TA, INSTRUCTOR), (CANVAS_13_STUDENT, STUDENT),
        (CANVAS_13_FACULTY_LEARNER, STUDENT), (MOODLE_13_ADMIN, INSTRUCTOR),
        (MOODLE_13_SITE_ADMIN_ONLY, INSTRUCTOR), (MOODLE_13_STUDENT, STUDENT),
        (EDX_13_STAFF, INSTRUCTOR), (EDX_13_STUDENT, STUDENT), (PEER_INSTRUCTOR, STUDENT),
    ],
)
def test_lti13_roles(payload, role):
    assert course_role(lti13_launch(payload).roles) == role


@pytest.mark.parametrize(
    "roles, role",
    [
        (["urn:lti:role:ims/lis/TeachingAssistant/TeachingAssistantSection"], INSTRUCTOR),
        (["urn:lti:role:ims/lis/Learner/Instructor"], STUDENT),
        (["urn:lti:instrole:ims/lis/Instructor"], STUDENT),
        (["urn:lti:sysrole:ims/lis/SysAdmin"], INSTRUCTOR),
        (["Administrator"], INSTRUCTOR),
        (["Mentor", "ContentDeveloper"], STUDENT),
        ([LIS + "membership#Mentor"], STUDENT),
        ([], STUDENT),
        (["  Instructor "], INSTRUCTOR),
    ],
)
def test_role_vocabulary(roles, role):
    assert course_role(roles) == role


def test_lti11_launch_fields():
    launch = lti11_launch(CANVAS_11_STUDENT)
    assert launch.user_id == "86157096483e6b3a50bfedc6bac902c0b20a824f"
    assert launch.context_id == "4dde05e8ca1973bcca9bffc13e1548820eee93a3"
    assert launch.context_label == "INTRO"
    assert launch.requested_image == "img/r:1"
    assert lti11_launch(EDX_11_STAFF).context_id == "course-v1:edX+DemoX+Demo_Course"


def test_lti13_launch_fields():
    launch = lti13_launch(CANVAS_13_STUDENT)
    assert (launch.user_id, launch.context_id, launch.context_label) == (
        "86157096483e6b3a50bfedc6bac902c0b20a824f", "ctx-1", "INTRO")
    assert launch.requested_image == "img/r:1"
    no_context = {k: v for k, v in MOODLE_13_STUDENT.items() if k != CLAIM + "context"}
    assert lti13_launch(no_context).context_id is None


def test_groups_follow_nbgrader_convention():
    assert course_groups(COURSE, INSTRUCTOR) == {"nbgrader-intro101", "formgrade-intro101"}
    assert course_groups(COURSE, STUDENT) == {"nbgrader-intro101"}


def test_image_choice_only_from_allow_list():
    assert choose_image(COURSE, None) == "img/default:1"
    assert choose_image(COURSE, "img/r:1") == "img/r:1"
    assert choose_image(COURSE, "img/default:1") == "img/default:1"
    assert choose_image(COURSE, "evil/miner:latest") == "img/default:1"
    assert choose_image(COURSE, "*") == "img/default:1"
