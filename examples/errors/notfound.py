"""A handler's own 404 page, next to Apache's (manual 3.5)."""

from mod_python import apache


def handler(req):
    if req.filename.endswith("apache-error.html"):
        return apache.HTTP_NOT_FOUND  # Apache renders its error page
    if req.filename.endswith("handler-error.html"):
        req.status = apache.HTTP_NOT_FOUND  # our own page, with a 404 status
        req.content_type = "text/plain"
        req.write("Page not here. Page left, not know where gone.\n")
        return apache.OK
    return apache.DECLINED  # anything else: Apache serves the file
