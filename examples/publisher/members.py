"""auth.py again, "using an alternative technique" (manual 7.1.2): the
passwords in a dictionary, the users allowed in a list."""

__auth_realm__ = "Members only"
__auth__ = {"eggs": "spam", "joe": "eoj"}
__access__ = ["eggs"]


def hello(req):
    return "hello"
