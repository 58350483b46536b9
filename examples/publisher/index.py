"""The traversal example of the manual (7.1.2).

index.py/hello calls hello(); index.py, index.py/ and index.py/index call
index(), and so does the directory itself (see DirectoryIndex in .htaccess).
"""


def index(req):
    return "We are in index()"


def hello(req):
    return "We are in hello()"
