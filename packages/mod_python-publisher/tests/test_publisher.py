"""Unit tests of the publishing algorithm (manual 7.1) without Apache.

They exercise the pure parts of mod_python.publisher: URL to module file,
traversal and its guard, __auth__/__access__/__auth_realm__ lookup and
checks, argument matching and the content-type decision. The request is a
small fake with only the members these parts read; the handler itself,
which needs mod_python.apache, is covered by tests/integration/test_publisher.py.
"""

from __future__ import annotations

import base64
import functools
import os
import textwrap
import types
from http import HTTPStatus
from typing import Any, Optional

import pytest

from mod_python import publisher
from mod_python._publisher_auth import _basic_credentials, _challenge, _Guard
from mod_python._publisher_base import _Refused
from mod_python._publisher_call import _arguments, _content_type, _form_fields, _output
from mod_python._publisher_target import _find_target, _object_names, _Target
from mod_python._publisher_walk import _resolve


class Headers(dict):
    """Just enough of an Apache table: keys ignore case."""

    def get(self, key: str, default: Any = None) -> Any:
        for name, value in self.items():
            if name.lower() == key.lower():
                return value
        return default


class FakeRequest:
    def __init__(self, authorization: Optional[str] = None, user: Optional[str] = None) -> None:
        self.headers_in = Headers()
        if authorization is not None:
            self.headers_in["Authorization"] = authorization
        self.user = user
        self.ap_auth_type: Optional[str] = None


def basic(user: str, password: str, encoding: str = "utf-8") -> str:
    token = base64.b64encode(f"{user}:{password}".encode(encoding)).decode("ascii")
    return f"Basic {token}"


def make_module(source: str, name: str = "published") -> types.ModuleType:
    """A module as the importer makes one: functions defined in it carry its __name__."""
    module = types.ModuleType(name)
    exec(compile(textwrap.dedent(source), f"<{name}>", "exec"), module.__dict__)
    return module


def resolve(module: types.ModuleType, path_info: str, req: Optional[FakeRequest] = None) -> Any:
    return _resolve(module, _object_names(path_info), _Guard(req or FakeRequest()))


def refused(status: HTTPStatus, func: Any, *args: Any) -> _Refused:
    with pytest.raises(_Refused) as info:
        func(*args)
    assert info.value.status == status, info.value.reason
    return info.value


# --------------------------------------------------------------------------- path_info


@pytest.mark.parametrize(
    "path_info, names",
    [
        ("", ("index",)),
        ("/", ("index",)),
        ("/hello", ("hello",)),
        ("/obj/method", ("obj", "method")),
        ("/obj/", ("obj", "index")),
        ("/a/b/c/", ("a", "b", "c", "index")),
    ],
)
def test_path_info_names_the_objects_and_a_trailing_slash_means_index(path_info, names):
    assert _object_names(path_info) == names


def test_an_empty_name_in_the_middle_is_not_found():
    refused(HTTPStatus.NOT_FOUND, _object_names, "/a//b")


# --------------------------------------------------------------------------- URL -> module file


@pytest.fixture
def site(tmp_path):
    """A directory laid out as in manual 7.1.2, plus a subdirectory."""
    (tmp_path / "index.py").write_text("def index(req): return 'index'\n")
    (tmp_path / "form.py").write_text("def email(req): return 'email'\n")
    (tmp_path / "_private.py").write_text("SECRET = 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "index.py").write_text("def index(req): return 'sub'\n")
    (tmp_path / "dir.py").mkdir()  # a directory with a module's name
    return tmp_path


def test_module_is_the_file_apache_mapped(site):
    target = _find_target(str(site / "form.py"), "/email")
    assert target == _Target(str(site / "form.py"), ("email",))


def test_extension_is_discarded_before_importing(site):
    # manual 7.1.2: "Before importing, the file extension, if any, is discarded."
    assert _find_target(str(site / "form.html"), "") == _Target(str(site / "form.py"), ("index",))
    assert _find_target(str(site / "form"), "/email") == _Target(str(site / "form.py"), ("email",))


def test_directory_means_its_index_module(site):
    expected = _Target(str(site / "sub" / "index.py"), ("index",))
    assert _find_target(str(site / "sub") + "/", "") == expected
    assert _find_target(str(site / "sub"), "") == expected  # DirectorySlash Off


def test_name_after_a_directory_is_an_object_of_its_index_module(site):
    # manual 7.1.2: http://www.somehost/hello returns index.py's hello()
    assert _find_target(str(site / "hello"), "") == _Target(str(site / "index.py"), ("hello",))
    assert _find_target(str(site / "index"), "/") == _Target(str(site / "index.py"), ("index",))


@pytest.mark.parametrize(
    "relpath, path_info",
    [
        ("hello", "/world"),  # no hello.py, and a path after it: nothing to fall back to
        ("hello", "/"),
        ("missing.py", ""),  # a missing module file is 404, never index.py's "missing"
        ("missing.py", "/func"),
        ("sub/missing", "/x"),
        ("dir.py", ""),  # not a file
    ],
)
def test_missing_module_file_is_not_found(site, relpath, path_info):
    refused(HTTPStatus.NOT_FOUND, _find_target, str(site / relpath), path_info)


def test_module_whose_name_starts_with_an_underscore_is_not_found(site):
    refused(HTTPStatus.NOT_FOUND, _find_target, str(site / "_private.py"), "")
    refused(HTTPStatus.NOT_FOUND, _find_target, str(site / "_private"), "/SECRET")


@pytest.mark.parametrize("filename", ["", None, "relative/form.py"])
def test_no_absolute_filename_is_not_found(filename):
    refused(HTTPStatus.NOT_FOUND, _find_target, filename, "")


def test_path_info_never_names_a_file(site):
    # Only req.filename chooses the module; path_info is object names only.
    target = _find_target(str(site / "form.py"), "/../../etc/passwd")
    assert target.module_path == str(site / "form.py")
    assert target.names == ("..", "..", "etc", "passwd")


def test_derived_module_may_not_be_a_symlink_out_of_its_directory(site, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "evil.py"
    outside.write_text("def index(req): return 'evil'\n")
    os.symlink(outside, site / "evil.py")
    # /evil and /evil.html: names the publisher derived, Apache never checked
    refused(HTTPStatus.NOT_FOUND, _find_target, str(site / "evil"), "")
    refused(HTTPStatus.NOT_FOUND, _find_target, str(site / "evil.html"), "")
    # /evil.py: Apache mapped it, applying its own FollowSymLinks rules
    assert _find_target(str(site / "evil.py"), "").module_path == str(site / "evil.py")


def test_derived_module_may_be_a_symlink_within_its_directory(site):
    os.symlink("form.py", site / "alias.py")
    assert _find_target(str(site / "alias"), "").module_path == str(site / "alias.py")


# --------------------------------------------------------------------------- traversal

APP = """
    import os
    from json import dumps
    from os import system
    from os.path import join as path_join
    from random import seed

    _SECRET = "s3cret"
    text = "some text"
    number = 42
    data = {"key": "value"}
    gen = (x for x in range(3))

    def index(req):
        return "index"

    def func(req):
        return "func"
    func.public_attr = "attribute of a function"

    def _private(req):
        return "private"

    class Klass:
        attr = "class attribute"
        def method(self):
            return "method"

    class Leaf:
        def index(self):
            return "leaf index"
        def page(self, req):
            return "leaf page"

    class Root:
        leaf = Leaf()
        def __init__(self):
            self.name = "root"

    root = Root()
"""


@pytest.fixture
def app():
    return make_module(APP)


def test_traversal_returns_the_object_the_path_names(app):
    assert resolve(app, "/func") is app.func
    assert resolve(app, "") is app.index
    assert resolve(app, "/text") == "some text"
    assert resolve(app, "/number") == 42


def test_object_hierarchies_are_published(app):
    # 3.2: "Objects hierarchy a la CherryPy can now be published."
    assert resolve(app, "/root/name") == "root"
    assert resolve(app, "/root/leaf/page").__func__ is app.Leaf.page
    assert resolve(app, "/root/leaf/").__func__ is app.Leaf.index


def test_methods_of_the_module_s_own_objects_are_published_from_the_top(app):
    app.leaf_page = app.root.leaf.page  # a global copy of a method defined here
    assert resolve(app, "/leaf_page").__func__ is app.Leaf.page


def test_a_class_at_the_end_is_published_not_entered(app):
    # manual 7.1.2: a class is returned "as its string representation"
    assert resolve(app, "/Klass") is app.Klass


@pytest.mark.parametrize(
    "path_info",
    [
        "/_SECRET",
        "/_private",
        "/__dict__",
        "/__builtins__",
        "/__file__",
        "/func/__globals__",
        "/func/__code__",
        "/root/__class__",
        "/root/__dict__",
        "/root/leaf/page/__func__",
    ],
)
def test_names_starting_with_an_underscore_are_not_found(app, path_info):
    refused(HTTPStatus.NOT_FOUND, resolve, app, path_info)


@pytest.mark.parametrize(
    "path_info",
    [
        "/os",  # a module
        "/os/system",  # ... and anything reached through it
        "/os/environ",
        "/Klass/attr",  # through a class
        "/Klass/method",
        "/func/public_attr",  # through a function
        "/root/leaf/page/im_self",  # through a method
        "/system",  # a built-in function
        "/text/upper",  # a built-in method
        "/data/keys",
        "/gen",  # interpreter internals
        "/dumps",  # a Python function the module imported, not defined
        "/path_join",
        "/seed",  # a bound method the module imported
        "/nothing",  # missing objects
        "/root/nothing",
        "/index.py",
        "/func.__globals__",
    ],
)
def test_unpublished_objects_are_not_found(app, path_info):
    refused(HTTPStatus.NOT_FOUND, resolve, app, path_info)


# --------------------------------------------------------------------------- arguments


def test_arguments_match_parameters_by_name_and_req_is_the_request():
    def email(req, name, email, comment):
        pass

    req = object()
    fields = {"name": "Joe", "email": "j@x", "comment": "hi", "extra": "dropped"}
    assert _arguments(email, req, fields) == (
        [],
        {"req": req, "name": "Joe", "email": "j@x", "comment": "hi"},
    )


def test_req_is_passed_only_when_asked_for_and_a_field_named_req_never():
    def say(what="NOTHING"):
        pass

    def takes_req(req):
        pass

    req = object()
    assert _arguments(say, req, {"req": "field"}) == ([], {})
    assert _arguments(takes_req, req, {"req": "field"}) == ([], {"req": req})


def test_parameters_without_a_field_keep_their_default():
    def say(req, what="NOTHING"):
        pass

    assert _arguments(say, "R", {}) == ([], {"req": "R"})
    assert _arguments(say, "R", {"what": "hello"}) == ([], {"req": "R", "what": "hello"})


def test_missing_required_arguments_are_a_bad_request_that_names_them():
    def email(req, name, email, comment="none"):
        pass

    error = refused(HTTPStatus.BAD_REQUEST, _arguments, email, "R", {"email": "j@x"})
    assert error.reason == "missing form field name"
    error = refused(HTTPStatus.BAD_REQUEST, _arguments, email, "R", {})
    assert error.reason == "missing form fields name, email"


def test_kwargs_receives_the_fields_no_parameter_names_but_not_req():
    def page(req, name, **fields):
        pass

    args, kwargs = _arguments(page, "R", {"name": "n", "a": "1", "b": ["2", "3"], "req": "x"})
    assert args == []
    assert kwargs == {"req": "R", "name": "n", "a": "1", "b": ["2", "3"]}


def test_var_positional_gets_nothing_and_keyword_only_parameters_match():
    def f(*args, key, other="o"):
        pass

    assert _arguments(f, "R", {"key": "k", "args": "a"}) == ([], {"key": "k"})


def test_positional_only_parameters_are_passed_by_position():
    def f(req, a="A", b="B", /, c="C"):
        pass

    args, kwargs = _arguments(f, "R", {"b": "b", "c": "c"})
    assert args == ["R", "A", "b"]
    assert kwargs == {"c": "c"}
    assert f(*args, **kwargs) is None


def test_bound_methods_and_callable_instances_match_without_self():
    class Page:
        def show(self, req, id):
            pass

        def __call__(self, what):
            pass

    page = Page()
    assert _arguments(page.show, "R", {"id": "7", "self": "s"}) == ([], {"req": "R", "id": "7"})
    assert _arguments(page, "R", {"what": "w"}) == ([], {"what": "w"})


def test_callable_without_a_signature_is_called_without_arguments():
    class NoSignature:
        @property
        def __signature__(self):
            raise ValueError("no signature")

        def __call__(self):
            return "called"

    assert _arguments(NoSignature(), "R", {"a": "1"}) == ([], {})


def test_decorated_functions_show_the_signature_they_wrap():
    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return func(*args, **kwargs)

        return wrapper

    @decorate
    def page(req, name):
        return name

    args, kwargs = _arguments(page, "R", {"name": "n", "other": "o"})
    assert kwargs == {"req": "R", "name": "n"}
    assert page(*args, **kwargs) == "n"


# --------------------------------------------------------------------------- authentication

AUTH_FUNCTIONS = """
    __auth_realm__ = "Members only"

    def __auth__(req, user, passwd):
        if user == "eggs" and passwd == "spam" or \\
            user == "joe" and passwd == "eoj":
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
"""

AUTH_DATA = """
    __auth_realm__ = "Members only"
    __auth__ = {"eggs": "spam", "joe": "eoj"}
    __access__ = ["eggs"]

    def hello(req):
        return "hello"
"""


@pytest.mark.parametrize("source", [AUTH_FUNCTIONS, AUTH_DATA], ids=["functions", "data"])
def test_module_auth_and_access_as_in_the_manual(source):
    module = make_module(source)
    error = refused(HTTPStatus.UNAUTHORIZED, resolve, module, "/hello", FakeRequest())
    assert error.realm == "Members only"
    wrong = FakeRequest(basic("eggs", "wrong"))
    refused(HTTPStatus.UNAUTHORIZED, resolve, module, "/hello", wrong)
    joe = FakeRequest(basic("joe", "eoj"))
    refused(HTTPStatus.FORBIDDEN, resolve, module, "/hello", joe)
    eggs = FakeRequest(basic("eggs", "spam"))
    assert resolve(module, "/hello", eggs) is module.hello
    assert eggs.user == "eggs"  # as Apache's own authentication would leave it
    assert eggs.ap_auth_type == "Basic"


def test_module_auth_is_checked_before_telling_whether_an_object_exists():
    module = make_module(AUTH_DATA)
    refused(HTTPStatus.UNAUTHORIZED, resolve, module, "/nothing", FakeRequest())
    refused(HTTPStatus.NOT_FOUND, resolve, module, "/nothing", FakeRequest(basic("eggs", "spam")))


def test_auth_callable_gets_the_request_user_and_password():
    calls = []
    module = make_module("def hello(req): return 'hello'\n")
    module.__auth__ = lambda req, user, password: calls.append((req, user, password)) or True
    req = FakeRequest(basic("grüße", "pässword"))
    resolve(module, "/hello", req)
    assert calls == [(req, "grüße", "pässword")]
    # req.user holds the header's bytes as ISO-8859-1, like every Apache string
    assert req.user == "grüße".encode().decode("iso-8859-1")


def test_credentials_in_iso_8859_1_are_read_too():
    module = make_module("__auth__ = {'jürgen': 'pw'}\ndef hello(req): return 'hello'\n")
    req = FakeRequest(basic("jürgen", "pw", encoding="iso-8859-1"))
    assert resolve(module, "/hello", req) is module.hello


@pytest.mark.parametrize(
    "value, status",
    [(0, HTTPStatus.UNAUTHORIZED), (None, HTTPStatus.UNAUTHORIZED), ("", HTTPStatus.UNAUTHORIZED)],
)
def test_false_auth_constant_refuses_even_good_credentials(value, status):
    module = make_module("def hello(req): return 'hello'\n")
    module.__auth__ = value
    refused(status, resolve, module, "/hello", FakeRequest(basic("eggs", "spam")))


def test_true_constants_let_everybody_in():
    module = make_module("__auth__ = 1\n__access__ = True\ndef hello(req): return 'hello'\n")
    assert resolve(module, "/hello", FakeRequest()) is module.hello


def test_false_access_constant_is_forbidden():
    module = make_module("__access__ = 0\ndef hello(req): return 'hello'\n")
    refused(HTTPStatus.FORBIDDEN, resolve, module, "/hello", FakeRequest())


@pytest.mark.parametrize(
    "authorization",
    [
        'Digest username="eggs", realm="x", nonce="n", uri="/", response="r"',
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Bearer abc",
        "",
    ],
)
def test_anything_but_basic_credentials_is_a_challenge_never_a_bad_request(authorization):
    # MODPYTHON-47: Digest authentication done by Apache must not give 400.
    module = make_module(AUTH_DATA)
    error = refused(HTTPStatus.UNAUTHORIZED, resolve, module, "/hello", FakeRequest(authorization))
    assert error.realm == "Members only"


def test_access_uses_the_user_apache_authenticated():
    # manual: PythonAuthenHandler (or mod_auth) authenticates, __access__ decides
    module = make_module("__access__ = ['eggs']\ndef hello(req): return 'hello'\n")
    assert resolve(module, "/hello", FakeRequest(user="eggs")) is module.hello
    refused(HTTPStatus.FORBIDDEN, resolve, module, "/hello", FakeRequest(user="joe"))


def test_access_never_trusts_an_unverified_user_name():
    # No __auth__ and no Apache authentication: the name in the header is
    # just a claim, so a list or function __access__ refuses.
    module = make_module("__access__ = ['eggs']\ndef hello(req): return 'hello'\n")
    refused(HTTPStatus.FORBIDDEN, resolve, module, "/hello", FakeRequest(basic("eggs", "x")))
    module.__access__ = lambda req, user: True
    refused(HTTPStatus.FORBIDDEN, resolve, module, "/hello", FakeRequest(basic("eggs", "x")))


def test_every_level_on_the_way_is_checked():
    module = make_module(
        """
        __auth__ = {"eggs": "spam", "joe": "eoj"}

        class Area:
            __access__ = ["joe"]
            __auth_realm__ = "Area"
            def page(self):
                return "page"

        area = Area()
        """
    )
    refused(HTTPStatus.UNAUTHORIZED, resolve, module, "/area/page", FakeRequest())
    refused(HTTPStatus.FORBIDDEN, resolve, module, "/area/page", FakeRequest(basic("eggs", "spam")))
    assert resolve(module, "/area/page", FakeRequest(basic("joe", "eoj")))() == "page"


def test_inner_realm_names_the_challenge():
    module = make_module(
        """
        __auth_realm__ = "Outer"

        class Area:
            __auth__ = {"a": "b"}
            __auth_realm__ = "Inner"
            page = "page"

        area = Area()
        """
    )
    assert refused(HTTPStatus.UNAUTHORIZED, resolve, module, "/area/page").realm == "Inner"
    module.Area.__auth_realm__ = None  # no realm of its own: the outer one applies
    assert refused(HTTPStatus.UNAUTHORIZED, resolve, module, "/area/page").realm == "Outer"


def test_default_realm():
    module = make_module("__auth__ = 0\nx = 1\n")
    assert refused(HTTPStatus.UNAUTHORIZED, resolve, module, "/x").realm == "unknown"


def test_function_attributes():
    module = make_module(
        """
        def hello(req):
            return "hello"
        hello.__auth__ = {"eggs": "spam", "joe": "eoj"}
        hello.__access__ = ["eggs"]
        hello.__auth_realm__ = "Hello"
        """
    )
    assert refused(HTTPStatus.UNAUTHORIZED, resolve, module, "/hello").realm == "Hello"
    refused(HTTPStatus.FORBIDDEN, resolve, module, "/hello", FakeRequest(basic("joe", "eoj")))
    assert resolve(module, "/hello", FakeRequest(basic("eggs", "spam"))) is module.hello


NESTED = """
    CALLS = []
    USERS = {"spam": "eggs", "joe": "eoj"}

    def sensitive(req):
        CALLS.append("sensitive ran")

        def __auth__(req, user, password):
            if user == 'spam' and password == 'eggs':
                # let them in
                return 1
            else:
                # no access
                return 0

        # something involving sensitive information
        return 'sensitive information'

    def globals_(req):
        def __auth__(req, user, password):
            # MODPYTHON-43: nested __auth__ sees the globals of its own module
            return USERS.get(user) == password
        __access__ = ("joe",)  # a tuple of constants is a constant
        __auth_realm__ = "Nested " + "realm"  # folded into one constant
        return "globals"

    def closed(req):
        __auth__ = 0
        return "closed"

    def lam(req):
        __auth__ = lambda req, user, password: user == "spam"
        return "lambda"

    def fast(req):
        __auth__ = 0
        return req  # 3.13 fuses the store with this load

    def annotated(req):
        def __auth__(req, user: str, password: str) -> bool:
            return user == "spam" and password == "eggs"
        return "annotated"

    class Page:
        def method(self, req):
            def __access__(req, user):
                return user == "spam"
            return "method"

    page = Page()
    page.__auth__ = {"spam": "eggs", "joe": "eoj"}
"""


@pytest.fixture
def nested():
    return make_module(NESTED)


def test_nested_auth_function_is_read_without_running_the_function(nested):
    refused(HTTPStatus.UNAUTHORIZED, resolve, nested, "/sensitive", FakeRequest())
    refused(HTTPStatus.UNAUTHORIZED, resolve, nested, "/sensitive", FakeRequest(basic("spam", "x")))
    found = resolve(nested, "/sensitive", FakeRequest(basic("spam", "eggs")))
    assert found is nested.sensitive
    assert nested.CALLS == []  # looking for __auth__ never calls the function


def test_nested_auth_runs_in_its_module_globals_with_constant_access_and_realm(nested):
    error = refused(HTTPStatus.UNAUTHORIZED, resolve, nested, "/globals_", FakeRequest())
    assert error.realm == "Nested realm"
    spam = FakeRequest(basic("spam", "eggs"))
    refused(HTTPStatus.FORBIDDEN, resolve, nested, "/globals_", spam)
    assert resolve(nested, "/globals_", FakeRequest(basic("joe", "eoj"))) is nested.globals_


def test_nested_constant_and_lambda(nested):
    refused(HTTPStatus.UNAUTHORIZED, resolve, nested, "/closed", FakeRequest(basic("a", "b")))
    refused(HTTPStatus.UNAUTHORIZED, resolve, nested, "/fast", FakeRequest(basic("a", "b")))
    refused(HTTPStatus.UNAUTHORIZED, resolve, nested, "/lam", FakeRequest(basic("eggs", "x")))
    assert resolve(nested, "/lam", FakeRequest(basic("spam", "x"))) is nested.lam


def test_nested_def_with_annotations(nested):
    refused(HTTPStatus.UNAUTHORIZED, resolve, nested, "/annotated", FakeRequest(basic("a", "b")))
    found = resolve(nested, "/annotated", FakeRequest(basic("spam", "eggs")))
    assert found is nested.annotated


def test_nested_in_a_method(nested):
    # MODPYTHON-27: nested in a class method as well as in a function
    refused(HTTPStatus.UNAUTHORIZED, resolve, nested, "/page/method", FakeRequest())
    refused(HTTPStatus.FORBIDDEN, resolve, nested, "/page/method", FakeRequest(basic("joe", "eoj")))
    found = resolve(nested, "/page/method", FakeRequest(basic("spam", "eggs")))
    assert found.__func__ is nested.Page.method


def test_nested_access_waits_for_an_auth_further_in():
    # __access__ of the module, __auth__ nested in the function: the user
    # the nested __auth__ authenticates is the one __access__ judges.
    module = make_module(
        """
        __access__ = ["eggs"]

        def hello(req):
            def __auth__(req, user, password):
                return password == "spam"
            return "hello"
        """
    )
    refused(HTTPStatus.UNAUTHORIZED, resolve, module, "/hello", FakeRequest())
    refused(HTTPStatus.FORBIDDEN, resolve, module, "/hello", FakeRequest(basic("joe", "spam")))
    assert resolve(module, "/hello", FakeRequest(basic("eggs", "spam"))) is module.hello


def test_nested_in_a_decorated_function_is_found():
    module = make_module(
        """
        import functools

        def logged(func):
            @functools.wraps(func)
            def wrapper(*args, **kwargs):
                return func(*args, **kwargs)
            return wrapper

        @logged
        def hello(req):
            __auth__ = 0
            return "hello"
        """
    )
    refused(HTTPStatus.UNAUTHORIZED, resolve, module, "/hello", FakeRequest(basic("a", "b")))


@pytest.mark.parametrize(
    "body, why",
    [
        ("__auth__ = {'spam': 'eggs'}", "computed when the function runs"),
        ("__access__ = ['spam']", "computed when the function runs"),
        ("__access__ = ['a', 'b', 'c', 'd']", "computed when the function runs"),
        ("__auth__ = dict(spam='eggs')", "computed when the function runs"),
        ("__auth__ = 0\nif req:\n    __auth__ = 1", "assigned more than once"),
        (
            "def __auth__(req, user, password, users=USERS):\n    return True",
            "computed when the function runs",
        ),
        (
            "users = USERS\ndef __auth__(req, user, password):\n    return user in users",
            "computed when the function runs",  # a closure
        ),
        ("__auth__ = __access__ = 0", "cannot be used"),
        ("x, __access__ = req", "cannot be used"),
        ("for __access__ in req:\n    pass", "computed when the function runs"),
    ],
)
def test_nested_values_that_need_running_the_function_are_an_error(body, why):
    # Manual: nesting "will not work if they are a dictionary or a list".
    # Ignoring them would publish the function unprotected: it is an error.
    source = "USERS = {}\nRAN = []\ndef hello(req):\n    RAN.append(1)\n"
    module = make_module(source + textwrap.indent(body, "    ") + "\n    return 'hello'\n")
    with pytest.raises(TypeError) as info:
        resolve(module, "/hello", FakeRequest(basic("spam", "eggs")))
    assert why in str(info.value)
    assert "hello.__" in str(info.value)  # says how to write it instead
    assert module.RAN == []


def test_auth_named_as_a_parameter_is_an_error():
    module = make_module("def hello(req, __auth__=1):\n    return 'hello'\n")
    with pytest.raises(TypeError, match="parameter"):
        resolve(module, "/hello", FakeRequest())


def test_functions_without_nested_definitions_are_published():
    module = make_module("def hello(req):\n    other = {'a': 1}\n    return other\n")
    assert resolve(module, "/hello", FakeRequest()) is module.hello


# --------------------------------------------------------------------------- credentials


def test_basic_credentials():
    assert _basic_credentials(basic("eggs", "sp:am")) == ("eggs", "sp:am", "eggs")
    assert _basic_credentials("basic " + basic("a", "b")[6:]) == ("a", "b", "a")
    assert _basic_credentials(None) is None
    assert _basic_credentials("Basic") is None


def test_challenge_is_one_quoted_header_line():
    assert _challenge("Members only") == 'Basic realm="Members only"'
    assert _challenge('say "hi"\\') == 'Basic realm="say \\"hi\\"\\\\"'
    assert _challenge("a\r\nSet-Cookie: x") == 'Basic realm="a  Set-Cookie: x"'
    assert _challenge("Zoë ∑") == 'Basic realm="' + "Zoë ∑".encode().decode("latin-1") + '"'


# --------------------------------------------------------------------------- output


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<html>\nDear Joe,<br>\n</html>", "text/html"),
        ("  \n<HTML lang='en'><body>x", "text/html"),
        ("<!DOCTYPE html>\n<title>x</title>", "text/html"),
        ("\ufeff<html>", "text/html"),
        ("<!-- a comment first -->\n<body>ends with the closing tag</body></html>\n", "text/html"),
        ("<p>a fragment</p>", "text/plain"),
        ("I am saying NOTHING", "text/plain"),
        ("<htmlx>", "text/plain"),
        ("", "text/plain"),
        ("x" * 2000 + "<html>", "text/plain"),
    ],
)
def test_text_content_type(text, expected):
    assert _content_type(text) == expected + "; charset=utf-8"


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"<html><body>\xff</body></html>", "text/html"),
        (b"\xef\xbb\xbf<!doctype html>", "text/html"),
        (b"\x89PNG\r\n\x1a\n", "text/plain"),
        (b"plain bytes", "text/plain"),
    ],
)
def test_bytes_content_type_has_no_charset(data, expected):
    assert _content_type(data) == expected


def test_output_keeps_bytes_and_makes_text_of_the_rest():
    assert _output(b"raw") == b"raw"
    assert _output(bytearray(b"raw")) == b"raw"
    assert _output(memoryview(b"raw")) == b"raw"
    assert _output("text") == "text"
    assert _output(42) == "42"
    assert _output({"a": 1}) == "{'a': 1}"


def test_only_handler_is_public():
    assert publisher.__all__ == ["__version__", "handler"]
    assert callable(publisher.handler)


def test_form_fields_gives_lists_for_repeated_names():
    form = {"a": "1", "b": ["2", "3"]}  # what FieldStorage's mapping interface gives
    assert _form_fields(form) == {"a": "1", "b": ["2", "3"]}
