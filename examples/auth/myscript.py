"""Basic authentication in Python (manual 3.4): the user spam, password eggs."""

from mod_python import apache


def authenhandler(req):
    pw = req.get_basic_auth_pw()  # must come before req.user
    if req.user == "spam" and pw == "eggs":
        return apache.OK
    return apache.HTTP_UNAUTHORIZED


def handler(req):
    req.content_type = "text/plain"
    req.write(f"Welcome, {req.user}. You are in.\n")
    return apache.OK
