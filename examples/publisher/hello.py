"""Publisher example (manual 7.1.1): hello.py/say?what=hello"""


def say(req, what="NOTHING"):
    return f"I am saying {what}"
