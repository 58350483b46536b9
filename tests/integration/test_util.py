"""mod_python.util (manual 4.6): FieldStorage over real requests (query strings,
URL-encoded and multipart bodies, chunked and large streamed uploads, the
callbacks of 4.6.2), its limits and errors (400, 413, nothing left behind, even
when the client goes away), and redirect()."""

from __future__ import annotations

import hashlib
import html
import os
import shutil
import socket
import stat
import tempfile
import time
import urllib.parse
from typing import Any, Dict, Iterator, List, Optional

import pytest
import requests

APP = r"""
import hashlib
import io
import json
import os
import uuid

from mod_python import apache, util

UPLOADS = "@UPLOADS@"
TMP = "@TMP@"


def file_digest(f):
    h = hashlib.sha256()
    size = 0
    f.seek(0)
    while True:
        chunk = f.read(1 << 20)
        if not chunk:
            break
        h.update(chunk)
        size += len(chunk)
    f.seek(0)
    return h.hexdigest(), size


def describe_field(field):
    out = {
        "kind": "Field",
        "name": field.name,
        "filename": field.filename,
        "type": field.type,
        "type_options": field.type_options,
        "disposition": field.disposition,
        "disposition_options": field.disposition_options,
        "file_class": type(field.file).__name__,
    }
    if field.filename is None:
        out["value"] = field.value
        out["file_text"] = field.file.read()
    else:
        out["sha256"], out["size"] = file_digest(field.file)
        out["value_is_bytes"] = type(field.value) is bytes
    return out


def describe(item):
    if isinstance(item, list):
        return [describe(i) for i in item]
    if isinstance(item, util.StringField):
        return {
            "kind": "StringField",
            "value": str(item),
            "dot_value": item.value,
            "is_str": isinstance(item, str),
            "name": item.name,
        }
    if isinstance(item, util.Field):
        return describe_field(item)
    return {"kind": type(item).__name__, "repr": repr(item)}


def reply(req, data):
    req.content_type = "application/json"
    req.write(json.dumps(data))
    return apache.OK


def form(req, **kw):
    return util.FieldStorage(
        req,
        keep_blank_values=bool(req.headers_in.get("X-Keep-Blank")),
        strict_parsing=bool(req.headers_in.get("X-Strict")),
        **kw
    )


def lookups(fs, name):
    try:
        item = describe(fs[name])
    except KeyError:
        item = "KeyError"
    return {
        "getitem": item,
        "get": describe(fs.get(name, "DEFAULT")),
        "getfirst": describe(fs.getfirst(name)),
        "getlist": describe(fs.getlist(name)),
        "in": name in fs,
        "has_key": fs.has_key(name),
    }


def dump(req):
    fs = form(req)
    names = [n for n in req.headers_in.get("X-Names", "").split(",") if n]
    return reply(req, {
        "list": [describe_field(f) for f in fs.list],
        "keys": fs.keys(),
        "len": len(fs),
        "iter": list(fs),
        "items": [[k, describe(v)] for k, v in fs.items()],
        "lookups": {n: lookups(fs, n) for n in names},
    })


def api(req):
    fs = form(req)
    out = {}
    fs.add_field("a", "4")
    out["after_add"] = describe(fs["a"])
    fs["b"] = "replaced"
    out["after_set"] = describe(fs["b"])
    fs["c"] = ["x", "y"]
    out["set_list"] = describe(fs["c"])
    del fs["a"]
    out["after_del"] = "a" in fs
    try:
        del fs["a"]
        out["del_missing"] = "no error"
    except KeyError:
        out["del_missing"] = "KeyError"
    out["getfirst_default"] = fs.getfirst("zz", "dflt")
    out["getfirst_none"] = fs.getfirst("zz")
    out["getlist_missing"] = fs.getlist("zz")
    out["get_missing"] = fs.get("zz")
    try:
        fs.add_field("n", 5)
    except TypeError as exc:
        out["add_bad"] = str(exc)
    out["keys"] = fs.keys()
    fs.clear()
    out["after_clear"] = [len(fs), fs.keys(), fs.list]
    return reply(req, out)


# The two examples of manual 4.6.2, in Python 3: io.FileIO stands for `file`.

class Storage(io.FileIO):

    def __init__(self, advisory_filename):
        self.advisory_filename = advisory_filename
        self.delete_on_close = True
        self.already_deleted = False
        self.real_filename = UPLOADS + '/thingy-' + uuid.uuid4().hex
        super(Storage, self).__init__(self.real_filename, 'w+b')

    def close(self):
        if self.already_deleted:
            return
        super(Storage, self).close()
        if self.delete_on_close:
            self.already_deleted = True
            os.remove(self.real_filename)


class DirStorage(io.FileIO):

    def __init__(self, directory, advisory_filename):
        self.advisory_filename = advisory_filename
        self.delete_on_close = True
        self.already_deleted = False
        self.real_filename = directory + '/thingy-' + uuid.uuid4().hex
        super(DirStorage, self).__init__(self.real_filename, 'w+b')

    def close(self):
        if self.already_deleted:
            return
        super(DirStorage, self).close()
        if self.delete_on_close:
            self.already_deleted = True
            os.remove(self.real_filename)


class StorageFactory:

    def __init__(self, directory):
        self.dir = directory

    def create(self, advisory_filename):
        return DirStorage(self.dir, advisory_filename)


def callbacks(req):
    if req.headers_in.get("X-Factory"):
        file_factory = StorageFactory(UPLOADS)
        request_data = util.FieldStorage(req, keep_blank_values=True,
                                         file_callback=file_factory.create)
    else:
        request_data = util.FieldStorage(req, keep_blank_values=True, file_callback=Storage)
    files = []
    for field in request_data.list:
        if field.filename is None:
            continue
        f = field.file
        digest, size = file_digest(f)
        files.append({
            "name": field.name,
            "filename": field.filename,
            "class": type(f).__name__,
            "advisory_filename": f.advisory_filename,
            "real_exists": os.path.exists(f.real_filename),
            "directory": os.path.dirname(f.real_filename),
            "sha256": digest,
            "size": size,
        })
    return reply(req, {
        "files": files,
        "uploads_during": sorted(os.listdir(UPLOADS)),
        "plain": {k: str(request_data[k]) for k in request_data.keys()
                  if isinstance(request_data[k], util.StringField)},
    })


class FieldSink(io.BytesIO):
    made = 0

    def __init__(self):
        super().__init__()
        FieldSink.made += 1


def fieldcb(req):
    FieldSink.made = 0
    fs = util.FieldStorage(req, field_callback=FieldSink)
    out = {"made": FieldSink.made, "fields": {}}
    for field in fs.list:
        content = field.file.read()
        out["fields"][field.name] = {
            "class": type(field.file).__name__,
            "content": content if isinstance(content, str) else content.decode("utf-8"),
            "value": field.value if field.filename is None else None,
            "mapping": describe(fs[field.name]),
        }
    return reply(req, out)


def vm(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def big(req):
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    rss_before = vm("VmRSS")
    fs = util.FieldStorage(req)
    hwm_after = vm("VmHWM")
    field = fs["upload"]
    digest, size = file_digest(field.file)
    return reply(req, {
        "reset": reset,
        "rss_before": rss_before,
        "hwm_after": hwm_after,
        "size": size,
        "sha256": digest,
        "file_class": type(field.file).__name__,
        "file_path": os.readlink("/proc/self/fd/%d" % field.file.fileno()),
        "filename": field.filename,
        "other": str(fs.getfirst("other")),
    })


def fds(req):
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        if target.startswith(TMP) or target.startswith(UPLOADS):
            found.append(target)
    return reply(req, {"open": found, "tmp": os.listdir(TMP), "uploads": os.listdir(UPLOADS)})


def body(req):
    fs = form(req)
    rest = req.read()
    return reply(req, {"keys": fs.keys(), "rest": rest.decode("latin-1")})


def redirect(req):
    how = req.args or ""
    if how == "late":
        req.content_type = "text/plain"
        req.write("started\n")
        try:
            util.redirect(req, "/elsewhere")
        except OSError as exc:
            req.write("refused: %s: %s" % (type(exc).__name__, exc))
        return apache.OK
    if how == "catch":
        try:
            util.redirect(req, "/caught")
        except apache.SERVER_RETURN as exc:
            req.write("<!-- caught %r -->" % (exc.args == (apache.DONE,),))
        return apache.OK
    if how == "crlf":
        try:
            util.redirect(req, "/x\r\nSet-Cookie: evil=1")
        except ValueError as exc:
            return reply(req, {"error": str(exc)})
    util.redirect(req, "/target?x=1&y=<2>", permanent=(how == "perm"),
                  text=("custom text" if how == "text" else None))


def second(req):
    req.write("second handler ran")
    return apache.OK


def parse_qs_exports(req):
    return reply(req, {
        "parse_qs": util.parse_qs("a=1&a=2&b="),
        "parse_qs_blank": util.parse_qs("a=1&b=", keep_blank_values=1),
        "parse_qsl": util.parse_qsl("a=1&b=%C3%A9"),
        "module": util.parse_qsl.__module__ if hasattr(util.parse_qsl, "__module__") else None,
    })


MODES = {
    "dump": dump,
    "api": api,
    "callbacks": callbacks,
    "fieldcb": fieldcb,
    "big": big,
    "fds": fds,
    "body": body,
    "redirect": redirect,
    "qs": parse_qs_exports,
}


def handler(req):
    return MODES[req.uri.rsplit("/", 1)[-1]](req)
"""

CONFIG = """
<Directory "{docroot}/app">
    SetHandler mod_python
    PythonHandler app
    PythonDebug On
</Directory>
<Directory "{docroot}/limited">
    SetHandler mod_python
    PythonHandler app
    PythonOption mod_python.util.max_body_size 10000
    PythonOption mod_python.util.max_fields 5
    PythonOption mod_python.util.max_field_size 100
</Directory>
<Directory "{docroot}/sized">
    SetHandler mod_python
    PythonHandler app
    PythonOption mod_python.util.max_body_size 2K
    PythonOption mod_python.util.max_field_size 0
</Directory>
<Directory "{docroot}/badopt">
    SetHandler mod_python
    PythonHandler app
    PythonOption mod_python.util.max_fields lots
</Directory>
<Directory "{docroot}/apachelimit">
    SetHandler mod_python
    PythonHandler app
    LimitRequestBody 1000
</Directory>
<Directory "{docroot}/stacked">
    SetHandler mod_python
    PythonHandler app
    PythonHandler app::second
</Directory>
"""

BOUNDARY = "mp-test-boundary-7f3a"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


@pytest.fixture(scope="module")
def dirs() -> Iterator[Dict[str, str]]:
    """TMPDIR and the upload directory of the 4.6.2 examples, writable by Apache's user."""
    base = tempfile.mkdtemp(prefix="mp-util-")
    out = {"tmp": os.path.join(base, "tmp"), "uploads": os.path.join(base, "uploads")}
    for path in (base, *out.values()):
        os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o777 | stat.S_ISVTX)
    yield out
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def server(start_server, single_child, dirs):
    fields, sizing = single_child
    app = APP.replace("@UPLOADS@", dirs["uploads"]).replace("@TMP@", dirs["tmp"])
    files = {
        f"htdocs/{d}/app.py": app
        for d in ("app", "limited", "sized", "badopt", "stacked", "apachelimit")
    }
    return start_server(sizing + CONFIG, files=files, env={"TMPDIR": dirs["tmp"]}, **fields)


def part(name: str, body: bytes, filename: Optional[str] = None, ctype: Optional[str] = None):
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = f"Content-Disposition: {disposition}\r\n"
    if ctype:
        head += f"Content-Type: {ctype}\r\n"
    return head.encode() + b"\r\n" + body


def multipart(*parts: bytes, boundary: str = BOUNDARY) -> bytes:
    out = b""
    for p in parts:
        out += b"--" + boundary.encode() + b"\r\n" + p + b"\r\n"
    return out + b"--" + boundary.encode() + b"--\r\n"


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def send(server, path: str, method: str = "POST", **kw) -> requests.Response:
    """A request; raw ``data`` (not a dict, no files) is sent as URL-encoded unless told."""
    headers = kw.pop("headers", {})
    raw = "data" in kw and not isinstance(kw["data"], dict) and "files" not in kw
    if raw and "Content-Type" not in headers:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return server.request(method, path, headers=headers, **kw)


def dump(server, path: str = "/app/dump", names: str = "", method: str = "POST", **kw) -> Any:
    headers = kw.pop("headers", {})
    if names:
        headers["X-Names"] = names
    r = send(server, path, method, headers=headers, **kw)
    assert r.status_code == 200, r.text
    return r.json()


def by_name(result: Dict[str, Any]) -> Dict[str, List[Dict[str, Any]]]:
    out: Dict[str, List[Dict[str, Any]]] = {}
    for field in result["list"]:
        out.setdefault(field["name"], []).append(field)
    return out


# --------------------------------------------------------------------------- reading forms


def test_query_string(server) -> None:
    result = dump(
        server, "/app/dump?a=1&b=two+words&a=%C3%A9&blank=&c=x%26y", "a,b,blank,zz", "GET"
    )
    assert result["keys"] == ["a", "b", "c"]
    assert result["len"] == 3 and result["iter"] == ["a", "b", "c"]
    look = result["lookups"]
    assert [i["value"] for i in look["a"]["getitem"]] == ["1", "é"]
    assert all(i["kind"] == "StringField" and i["is_str"] for i in look["a"]["getitem"])
    assert look["a"]["getfirst"]["value"] == "1"
    assert look["b"]["getitem"] == {
        "kind": "StringField",
        "value": "two words",
        "dot_value": "two words",
        "is_str": True,
        "name": "b",
    }
    assert look["b"]["getlist"] == [look["b"]["getitem"]]
    assert look["blank"]["getitem"] == "KeyError" and look["blank"]["in"] is False
    assert look["zz"] == {
        "getitem": "KeyError",
        "get": {"kind": "str", "repr": "'DEFAULT'"},
        "getfirst": {"kind": "NoneType", "repr": "None"},
        "getlist": [],
        "in": False,
        "has_key": False,
    }
    assert by_name(result)["c"][0]["value"] == "x&y"
    field = by_name(result)["a"][0]
    assert (field["type"], field["filename"], field["disposition"]) == (None, None, None)
    assert field["file_class"] == "StringIO" and field["file_text"] == "1"


def test_keep_blank_values(server) -> None:
    result = dump(server, "/app/dump?a=&b=1", "a", "GET", headers={"X-Keep-Blank": "1"})
    assert result["keys"] == ["a", "b"]
    assert result["lookups"]["a"]["getitem"]["value"] == ""
    result = dump(server, "/app/dump", data=b"x=&y=2&z", headers={"X-Keep-Blank": "1"})
    assert [(f["name"], f["value"]) for f in result["list"]] == [("x", ""), ("y", "2"), ("z", "")]
    result = dump(server, "/app/dump", data=b"x=&y=2&z")
    assert result["keys"] == ["y"]


def test_urlencoded_post_with_query(server) -> None:
    result = dump(server, "/app/dump?q=first", "sel", data={"sel": ["a", "b", "c"], "t": "Grüße"})
    assert result["keys"] == ["q", "sel", "t"]
    assert [f["value"] for f in result["list"]] == ["first", "a", "b", "c", "Grüße"]
    assert [i["value"] for i in result["lookups"]["sel"]["getitem"]] == ["a", "b", "c"]
    assert [i["value"] for i in result["lookups"]["sel"]["get"]] == ["a", "b", "c"]
    assert result["lookups"]["sel"]["getfirst"]["value"] == "a"
    assert result["items"][1] == ["sel", result["lookups"]["sel"]["getitem"]]


def test_text_decoding_rule(server) -> None:
    result = dump(server, "/app/dump", data=b"ok=%C3%A9&bad=%FF&raw=\xc3\xa9")
    assert [(f["name"], f["value"]) for f in result["list"]] == [
        ("ok", "é"),
        ("bad", "\ufffd"),
        ("raw", "é"),
    ]
    latin1 = part("w", b"caf\xe9", ctype="text/plain; charset=latin-1")
    body = multipart(part("v", b"caf\xe9 \xc3\xa9"), latin1)
    result = dump(server, "/app/dump", data=body, headers={"Content-Type": MULTIPART})
    assert [f["value"] for f in result["list"]] == ["caf\ufffd é", "café"]


def test_strict_parsing(server) -> None:
    assert dump(server, "/app/dump", data=b"a=1&b")["keys"] == ["a"]
    r = send(server, "/app/dump", data=b"a=1&b", headers={"X-Strict": "1"})
    assert r.status_code == 400
    assert "bad query field" in server.error_log()


def test_multipart_files_round_trip(server) -> None:
    binary = bytes(range(256)) * 64 + b"\r\n--" + BOUNDARY.encode()[:-1] + b"\r\n"
    big = os.urandom(3 * 1024 * 1024 + 17)
    files = [
        ("upload", ("data.bin", binary, "application/octet-stream")),
        ("upload", ("big.raw", big, "image/x-raw; quality=high")),
        ("note", ("grüße.txt", "text ✓".encode(), "text/plain; charset=utf-8")),
    ]
    result = dump(server, "/app/dump", "upload,title", data={"title": "T"}, files=files)
    fields = by_name(result)
    assert [(f["filename"], f["size"], f["sha256"]) for f in fields["upload"]] == [
        ("data.bin", len(binary), sha(binary)),
        ("big.raw", len(big), sha(big)),
    ]
    first, second = fields["upload"]
    assert first["type"] == "application/octet-stream" and first["type_options"] == {}
    assert second["type"] == "image/x-raw" and second["type_options"] == {"quality": "high"}
    assert second["disposition"] == "form-data"
    assert second["disposition_options"] == {"name": "upload", "filename": "big.raw"}
    assert second["file_class"] == "BufferedRandom" and second["value_is_bytes"]
    assert fields["note"][0]["filename"] == "grüße.txt"
    look = result["lookups"]
    assert [i["kind"] for i in look["upload"]["getitem"]] == ["Field", "Field"]
    assert look["upload"]["getfirst"]["filename"] == "data.bin"
    assert look["title"]["getitem"]["kind"] == "StringField"
    assert look["title"]["getitem"]["value"] == "T"
    assert fields["title"][0]["type"] == "text/plain"


def test_nested_multipart_mixed(server) -> None:
    inner = multipart(
        b'Content-Disposition: file; filename="file1.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n...contents of file1.txt...",
        b'Content-Disposition: file; filename="file2.gif"\r\n'
        b"Content-Type: image/gif\r\n\r\n" + bytes(range(256)),
        boundary="BbC04y",
    )
    body = multipart(
        part("field1", b"Joe Blow"),
        part("pics", inner, ctype="multipart/mixed; boundary=BbC04y"),
    )
    result = dump(server, "/app/dump", "pics", data=body, headers={"Content-Type": MULTIPART})
    assert result["keys"] == ["field1", "pics"]
    pics = result["lookups"]["pics"]["getitem"]
    assert [(p["filename"], p["type"], p["disposition"]) for p in pics] == [
        ("file1.txt", "text/plain", "file"),
        ("file2.gif", "image/gif", "file"),
    ]
    assert pics[1]["sha256"] == sha(bytes(range(256)))


def test_chunked_upload(server) -> None:
    data = os.urandom(300_000)
    body = multipart(part("text", b"chunked"), part("f", data, filename="c.bin"))
    r = server.post("/app/dump", data=pieces(body, 4093), headers={"Content-Type": MULTIPART})
    assert r.status_code == 200, r.text
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    fields = by_name(r.json())
    assert fields["text"][0]["value"] == "chunked"
    assert (fields["f"][0]["size"], fields["f"][0]["sha256"]) == (len(data), sha(data))
    urlencoded = b"&".join(b"k%d=%d" % (i, i) for i in range(500))
    r = server.post(
        "/app/dump",
        data=pieces(urlencoded, 1000),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200 and len(r.json()["list"]) == 500


def test_other_bodies_are_left_to_the_handler(server) -> None:
    r = server.post("/app/body?a=1", json={"x": 1})
    assert r.json() == {"keys": ["a"], "rest": '{"x": 1}'}


def test_mapping_api(server) -> None:
    r = server.get("/app/api?a=1&b=2&a=3")
    out = r.json()
    assert [i["value"] for i in out["after_add"]] == ["1", "3", "4"]
    assert out["after_set"]["value"] == "replaced"
    assert [i["value"] for i in out["set_list"]] == ["x", "y"]
    assert out["after_del"] is False
    assert out["del_missing"] == "KeyError"
    assert (out["getfirst_default"], out["getfirst_none"]) == ("dflt", None)
    assert (out["getlist_missing"], out["get_missing"]) == ([], None)
    assert "must be a str or a Field, not int" in out["add_bad"]
    assert out["keys"] == ["b", "c"]
    assert out["after_clear"] == [0, [], []]


def test_parse_qs_and_parse_qsl_are_exported(server) -> None:
    out = server.get("/app/qs").json()
    assert out["parse_qs"] == {"a": ["1", "2"]}
    assert out["parse_qs_blank"] == {"a": ["1"], "b": [""]}
    assert out["parse_qsl"] == [["a", "1"], ["b", "é"]]


# --------------------------------------------------------------------------- callbacks (4.6.2)


@pytest.mark.parametrize("factory", [False, True], ids=["constructor", "factory"])
def test_file_callback_examples(server, dirs, factory: bool) -> None:
    data = os.urandom(200_000)
    files = {"upload": ("report.pdf", data), "other": ("second.txt", b"2")}
    headers = {"X-Factory": "1"} if factory else {}
    r = server.post(
        "/app/callbacks", data={"plain": "v", "blank": ""}, files=files, headers=headers
    )
    assert r.status_code == 200, r.text
    out = r.json()
    upload, other = out["files"]
    assert upload["class"] == ("DirStorage" if factory else "Storage")
    assert (
        upload["advisory_filename"] == "report.pdf" and other["advisory_filename"] == "second.txt"
    )
    assert upload["real_exists"] and upload["directory"] == dirs["uploads"]
    assert (upload["size"], upload["sha256"]) == (len(data), sha(data))
    assert len(out["uploads_during"]) == 2
    assert out["plain"] == {"plain": "v", "blank": ""}
    # FieldStorage closes its files when the request ends: Storage.close() deletes them.
    assert wait_for(lambda: not os.listdir(dirs["uploads"])), os.listdir(dirs["uploads"])


def test_field_callback(server) -> None:
    r = server.post(
        "/app/fieldcb?q=1",
        data={"a": "Grüße", "b": ""},
        files={"f": ("f.txt", b"file data")},
    )
    out = r.json()
    assert out["made"] == 2, "called for each non-file part, not for the query or files"
    a = out["fields"]["a"]
    assert (a["class"], a["content"], a["value"]) == ("FieldSink", "Grüße", "Grüße")
    assert a["mapping"]["kind"] == "StringField" and a["mapping"]["value"] == "Grüße"
    assert out["fields"]["f"]["class"] == "BufferedRandom"
    assert out["fields"]["q"]["class"] == "StringIO"


# --------------------------------------------------------------------------- large uploads


def test_large_streaming_upload_uses_bounded_memory(server, dirs) -> None:
    size = 200 * 1024 * 1024
    block = hashlib.sha256(b"seed").digest() * 32768  # 1 MiB
    head = part("other", b"x") + b"\r\n--" + BOUNDARY.encode() + b"\r\n"
    head += b'Content-Disposition: form-data; name="upload"; filename="big.bin"\r\n\r\n'
    digest = hashlib.sha256()

    def body() -> Iterator[bytes]:
        yield b"--" + BOUNDARY.encode() + b"\r\n" + head
        for i in range(size // len(block)):
            chunk = bytes([i % 251]) + block[1:]
            digest.update(chunk)
            yield chunk
        yield b"\r\n--" + BOUNDARY.encode() + b"--\r\n"

    r = server.post("/app/big", data=body(), headers={"Content-Type": MULTIPART}, timeout=300)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["size"], out["sha256"]) == (size, digest.hexdigest())
    assert (out["filename"], out["other"]) == ("big.bin", "x")
    assert out["file_class"] == "BufferedRandom"
    assert out["file_path"].startswith(dirs["tmp"]), "temporary files go to TMPDIR"
    assert out["reset"], "could not reset VmHWM: the memory check would not mean anything"
    growth = out["hwm_after"] - out["rss_before"]
    assert growth < 64 * 1024 * 1024, f"peak memory grew by {growth / 2**20:.1f} MiB"


# --------------------------------------------------------------------------- bad input


def as_logged(text: str) -> str:
    """``text`` as Apache's error log shows it: bytes beyond ASCII escaped as ``\\xNN``."""
    return "".join(c if c.isascii() else "".join(f"\\x{b:02x}" for b in c.encode()) for c in text)


def assert_refused(server, r: requests.Response, status: int, reason: str) -> None:
    assert r.status_code == status, r.text
    reason = as_logged(reason)
    assert wait_for(lambda: reason in server.error_log()), reason
    log = [line for line in server.error_log().splitlines() if reason in line]
    assert "mod_python.util.FieldStorage" in log[-1]


@pytest.mark.parametrize(
    "content_type, body, reason",
    [
        ("multipart/form-data", b"--x\r\n", "multipart/form-data without a boundary parameter"),
        (MULTIPART, b"no boundary here at all", "does not contain its boundary"),
        (
            MULTIPART,
            multipart(part("a", b"1"), part("f", b"2" * 5000, filename="f"))[:-200],
            "truncated",
        ),
        (MULTIPART, multipart(b"Content-Type: text/plain\r\n\r\nx"), "no Content-Disposition"),
        (MULTIPART, multipart(b"Content-Disposition: form-data\r\n\r\nx"), "has no name"),
        (
            MULTIPART,
            multipart(part("€", b"x", ctype="multipart/mixed")),
            "multipart/mixed part '€' without a boundary parameter",
        ),
    ],
    ids=[
        "no-boundary-param",
        "boundary-missing",
        "truncated",
        "no-disposition",
        "no-name",
        "unicode-reason",
    ],
)
def test_malformed_bodies_get_400(server, content_type: str, body: bytes, reason: str) -> None:
    r = server.post("/app/dump", data=body, headers={"Content-Type": content_type})
    assert_refused(server, r, 400, reason)
    assert reason in html.unescape(r.text), "Apache's 400 page shows the reason"


def test_truncated_chunked_body_gets_400(server) -> None:
    body = multipart(part("f", b"z" * 100_000, filename="f"))[:-100]
    r = server.post("/app/dump", data=pieces(body, 7000), headers={"Content-Type": MULTIPART})
    assert_refused(server, r, 400, "truncated")


@pytest.mark.parametrize(
    "path, kw, reason",
    [
        (
            "/limited/dump",
            {"data": b"a=" + b"x" * 20000},
            "(20002 bytes) is larger than max_body_size",
        ),
        (
            "/limited/dump",
            {"data": pieces(b"a=1&" * 5000, 1000)},
            "larger than max_body_size (10000 bytes)",
        ),
        ("/limited/dump", {"data": b"a=1&b=2&c=3&d=4&e=5&f=6"}, "more than max_fields (5) fields"),
        ("/limited/dump?a=1&b=2&c=3", {"data": b"d=4&e=5&f=6"}, "more than max_fields (5) fields"),
        (
            "/limited/dump",
            {"data": b"a=1&long=" + b"x" * 200},
            "field 'long' is larger than max_field_size",
        ),
        (
            "/limited/dump",
            {"files": {"v": (None, b"y" * 101)}},
            "field 'v' is larger than max_field_size",
        ),
        ("/sized/dump", {"files": {"f": ("f", b"z" * 3000)}}, "max_body_size (2048 bytes)"),
        ("/limited/dump", {"data": "€=".encode() + b"x" * 200}, "field '€' is larger"),
    ],
    ids=[
        "content-length",
        "chunked",
        "fields",
        "fields-with-query",
        "pair",
        "part",
        "suffix",
        "unicode-name",
    ],
)
def test_limits_get_413(server, path: str, kw: Dict[str, Any], reason: str) -> None:
    r = send(server, path, **kw)
    assert_refused(server, r, 413, reason)


def test_within_limits(server) -> None:
    data = os.urandom(5000)
    result = dump(server, "/limited/dump", data={"a": "1"}, files={"f": ("f", data)})
    assert by_name(result)["f"][0]["sha256"] == sha(data), "files are not field-size limited"
    result = dump(server, "/sized/dump", data={"a": "x" * 1900})
    assert len(result["list"][0]["value"]) == 1900


def test_body_over_apaches_limit_request_body_gets_413(server) -> None:
    # Apache refuses the body when req.read() starts; the handler does not catch
    # the OSError, whose status the dispatcher answers with
    r = server.post("/apachelimit/dump", data={"v": "x" * 5000})
    assert r.status_code == 413
    # 2.4 refuses when reading starts, 2.2 at the first read
    assert "cannot read the request body" in server.error_log()
    urlencoded = {"Content-Type": "application/x-www-form-urlencoded"}
    chunked = server.post("/apachelimit/dump", data=iter([b"v=" + b"x" * 5000]), headers=urlencoded)
    assert chunked.status_code == 413


def test_bad_option_value(server) -> None:
    r = server.get("/badopt/dump")
    assert r.status_code == 500
    assert wait_for(lambda: "PythonOption mod_python.util.max_fields 'lots'" in server.error_log())


def test_nothing_left_behind_after_errors(server, dirs) -> None:
    body = multipart(part("f", os.urandom(100_000), filename="f"), part("g", b"1"))[:-300]
    assert (
        server.post("/app/dump", data=body, headers={"Content-Type": MULTIPART}).status_code == 400
    )
    r = server.post("/limited/dump", files={"f": ("f", b"x" * 9000), "v": (None, b"y" * 500)})
    assert r.status_code == 413
    r = server.post("/app/callbacks", data=body, headers={"Content-Type": MULTIPART})
    assert r.status_code == 400
    assert_nothing_left(server, dirs)


def assert_nothing_left(server, dirs) -> None:
    assert os.listdir(dirs["tmp"]) == []
    assert os.listdir(dirs["uploads"]) == []
    out = server.get("/app/fds").json()
    assert out == {"open": [], "tmp": [], "uploads": []}


def send_partial_upload(server, path: str, until=None) -> None:
    """Send the headers and part of a 10 MB upload, then hang up."""
    url = urllib.parse.urlsplit(server.url)
    head = part("f", b"", filename="partial.bin")
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(
            (
                f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                f"Content-Type: {MULTIPART}\r\nContent-Length: 10000000\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
            + b"--"
            + BOUNDARY.encode()
            + b"\r\n"
            + head
        )
        for _ in range(16):
            sock.sendall(os.urandom(65536))
        if until is not None:
            assert wait_for(until), "the handler never started storing the upload"


def test_client_disconnect_mid_upload(server, dirs) -> None:
    before = server.error_log().count("the client went away")
    send_partial_upload(server, "/app/callbacks", until=lambda: os.listdir(dirs["uploads"]))
    assert wait_for(lambda: server.error_log().count("the client went away") > before)
    assert wait_for(lambda: not os.listdir(dirs["uploads"])), os.listdir(dirs["uploads"])
    send_partial_upload(server, "/app/dump")
    assert wait_for(lambda: server.error_log().count("the client went away") > before + 1)
    assert_nothing_left(server, dirs)


# --------------------------------------------------------------------------- redirect


def test_redirect_temporary_and_permanent(server) -> None:
    r = server.get("/app/redirect", allow_redirects=False)
    assert r.status_code == 302
    assert r.headers["Location"] == "/target?x=1&y=<2>"
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert 'href="/target?x=1&amp;y=&lt;2&gt;"' in r.text
    r = server.get("/app/redirect?perm", allow_redirects=False)
    assert r.status_code == 301 and r.headers["Location"] == "/target?x=1&y=<2>"
    r = server.get("/app/redirect?text", allow_redirects=False)
    assert r.status_code == 302 and r.text == "custom text"


def test_redirect_after_headers_are_sent_is_refused(server) -> None:
    r = server.get("/app/redirect?late", allow_redirects=False)
    assert r.status_code == 200
    assert "Location" not in r.headers
    assert r.text.startswith("started\nrefused: OSError: redirect to '/elsewhere' impossible")
    assert "headers have already been sent" in r.text


def test_redirect_raises_done(server) -> None:
    r = server.get("/app/redirect?catch", allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"] == "/caught"
    assert r.text.endswith("<!-- caught True -->")
    r = server.get("/stacked/redirect", allow_redirects=False)
    assert r.status_code == 302
    assert "second handler ran" not in r.text, "DONE stops the stacked handlers"
    assert "second handler ran" in server.get("/stacked/dump").text


def test_redirect_refuses_line_breaks(server) -> None:
    out = server.get("/app/redirect?crlf", allow_redirects=False).json()
    assert "cannot contain a line break" in out["error"]


def wait_for(condition, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
