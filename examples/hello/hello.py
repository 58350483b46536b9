"""The smallest mod_python handler (manual 2.4 and 3.3)."""

from mod_python import apache


def handler(req):
    req.content_type = "text/plain"
    req.write("Hello World!\n")
    req.write(f"You asked for {req.uri}, served by interpreter {req.interpreter!r}.\n")
    return apache.OK
