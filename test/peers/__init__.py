"""LMS-side test peers (see README.md). A package only so that pytest registers its conftest as
peers.conftest and the hub tier's `from conftest import ...` keeps finding test/hub/conftest.py when
both directories run together; the modules import each other flat (test/peers on sys.path).
"""
