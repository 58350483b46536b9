"""Protecting one function (manual 7.1.2): __auth__ nested in it.

The publisher reads the nested def without running sensitive(): user spam,
password eggs. public() needs no password.
"""


def sensitive(req):
    def __auth__(req, user, password):
        if user == "spam" and password == "eggs":
            # let them in
            return 1
        else:
            # no access
            return 0

    # something involving sensitive information
    return "sensitive information"


def public(req):
    return "public information"
