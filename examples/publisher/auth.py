"""Access control with the publisher (manual 7.1.2, "Authentication").

Only the user eggs, password spam, may call hello(): joe (password eoj) is
authenticated by __auth__ but refused by __access__. members.py does the
same with a dictionary and a list; sensitive.py protects one function.
"""

__auth_realm__ = "Members only"


def __auth__(req, user, passwd):
    if user == "eggs" and passwd == "spam" or user == "joe" and passwd == "eoj":
        return 1
    else:
        return 0


def __access__(req, user):
    if user == "eggs":
        return 1
    else:
        return 0


def hello(req):
    return "hello"
