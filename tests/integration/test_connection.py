"""Connection handlers and the connection object (manual 4.4, 4.5.5, 5.3.1).

Each PythonConnectionHandler lives in its own ``<VirtualHost 127.0.0.1:PORT>``
on an extra Listen port and is spoken to with a raw socket; the server's
main port keeps serving HTTP.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest

from mod_python._httpd import free_port

# A module on sys.path (through PythonPath), run with the default callable name.
ECHO = """
    from mod_python import apache

    def connectionhandler(conn):
        lines = 0
        while True:
            line = conn.readline()
            if not line:
                break
            lines += 1
            conn.write(line)
        conn.log_error("echo: end of input after %d lines" % lines, apache.APLOG_NOTICE)
        return apache.OK
"""

# A module file given by its absolute path, with several callables.
PROTO = """
    import json
    import threading
    import time

    from mod_python import apache

    def members(conn):
        server = conn.base_server
        return {
            "remote_ip": conn.remote_ip,
            "remote_addr": list(conn.remote_addr),
            "local_addr": list(conn.local_addr),
            "local_ip": conn.local_ip,
            "local_host": conn.local_host,
            "remote_host": conn.remote_host,
            "remote_logname": conn.remote_logname,
            "aborted": conn.aborted,
            "keepalive": conn.keepalive,
            "keepalives": conn.keepalives,
            "double_reverse": conn.double_reverse,
            "id": conn.id,
            "base_server": server.server_hostname,
            "is_virtual": server.is_virtual,
            "interpreter": apache.interpreter,
        }

    def read_only(conn):
        refused = []
        for name in ("base_server", "local_addr", "remote_addr", "remote_ip", "remote_host",
                     "remote_logname", "aborted", "keepalive", "double_reverse",
                     "keepalives", "local_ip", "local_host", "id", "notes"):
            try:
                setattr(conn, name, None)
            except AttributeError:
                refused.append(name)
        return refused

    def commands(conn):
        while True:
            line = conn.readline()
            if not line:
                return apache.OK
            cmd, _, arg = line.rstrip(b"\\r\\n").partition(b" ")
            if cmd == b"len":
                conn.write(b"%d\\n" % len(conn.readline()))
            elif cmd == b"read":
                data = conn.read(int(arg))
                conn.write(b"%d:" % len(data) + data + b"\\n")
            elif cmd == b"readline":
                conn.write(repr(conn.readline(int(arg))).encode() + b"\\n")
            elif cmd == b"readall":
                data = conn.read()
                conn.write(b"%d %d\\n" % (len(data), data.count(b"x")))
                return apache.OK
            elif cmd == b"info":
                conn.notes["seen"] = "yes"
                info = members(conn)
                info["notes"] = conn.notes.get("seen")
                info["read_only"] = read_only(conn)
                conn.write(json.dumps(info) + "\\n")
            elif cmd == b"str":
                conn.write("h\\u00e9llo \\u20ac\\n")
            elif cmd == b"memoryview":
                conn.write(memoryview(bytearray(b"from a buffer\\n")))
            elif cmd == b"badwrite":
                try:
                    conn.write(123)
                except TypeError as exc:
                    conn.write("TypeError: %s\\n" % exc)
            elif cmd == b"log":
                conn.log_error("conn.log_error says " + arg.decode(), apache.APLOG_WARNING)
                conn.log_error("conn.log_error default level")
                conn.write(b"logged\\n")
            elif cmd == b"stale":
                notes = conn.notes

                def later(c=conn, notes=notes):
                    for what, use in (("remote_ip", lambda: c.remote_ip),
                                      ("write", lambda: c.write(b"late")),
                                      ("readline", lambda: c.readline()),
                                      ("notes", lambda: notes.get("x"))):
                        try:
                            use()
                            apache.log_error("stale %s: no error" % what, apache.APLOG_NOTICE)
                        except RuntimeError as exc:
                            apache.log_error("stale %s: RuntimeError: %s" % (what, exc),
                                             apache.APLOG_NOTICE)

                threading.Timer(0.3, later).start()
                conn.write(b"bye\\n")
                return apache.OK
            elif cmd == b"bgread":
                def reader(c=conn):
                    try:
                        got = c.read(10)
                        apache.log_error("bgread got %r" % (got,), apache.APLOG_NOTICE)
                    except Exception as exc:
                        apache.log_error("bgread raised %r" % (exc,), apache.APLOG_NOTICE)

                threading.Thread(target=reader).start()
                time.sleep(0.3)
                try:
                    conn.write(b"x")
                except RuntimeError as exc:
                    apache.log_error("bgread busy: %s" % exc, apache.APLOG_NOTICE)
                return apache.OK
            elif cmd == b"timeout":
                try:
                    conn.readline()
                    conn.write(b"no timeout\\n")
                except TimeoutError as exc:
                    conn.write(b"TimeoutError: %s\\n" % str(exc).encode())
                conn.write(b"again:" + conn.readline())
            elif cmd == b"quit":
                conn.write(b"bye\\n")
                return apache.DONE
            else:
                conn.write(b"unknown " + cmd + b"\\n")

    def failing(conn):
        line = conn.readline()
        raise ValueError("boom from the connection handler after %r" % line)

    def returns_none(conn):
        conn.readline()

    def greet(conn):
        # the server speaks first, like SMTP or FTP
        try:
            conn.write(b"220 hello\\r\\n")
            conn.write(b"221 bye " + conn.readline())
        except OSError as exc:
            conn.log_error("greet: %s" % exc, apache.APLOG_INFO)
        return apache.OK

    def decline(conn):
        conn.log_error("decline: called for port %d" % conn.remote_addr[1], apache.APLOG_NOTICE)
        return apache.DECLINED
"""

REQUEST_MEMBERS = """
    import json
    from mod_python import apache

    def handler(req):
        c = req.connection
        count = int(c.notes.get("count", "0")) + 1
        c.notes["count"] = str(count)
        info = {
            "remote_ip": c.remote_ip,
            "remote_addr": list(c.remote_addr),
            "local_addr": list(c.local_addr),
            "local_ip": c.local_ip,
            "remote_host": c.remote_host,
            "remote_logname": c.remote_logname,
            "aborted": c.aborted,
            "keepalive": c.keepalive,
            "keepalives": c.keepalives,
            "double_reverse": c.double_reverse,
            "id": c.id,
            "base_server": c.base_server.server_hostname,
            "count": count,
            "same_object": c is req.connection,
        }
        errors = {}
        for name, call in (("read", lambda: c.read(1)), ("readline", lambda: c.readline()),
                           ("write", lambda: c.write(b"x"))):
            try:
                call()
            except RuntimeError as exc:
                errors[name] = str(exc)
        try:
            c.keepalives = 5
        except AttributeError:
            errors["setattr"] = "AttributeError"
        info["errors"] = errors
        req.content_type = "application/json"
        req.write(json.dumps(info))
        return apache.OK
"""

PORTS = {
    name: free_port() for name in ("echo", "proto", "failing", "none", "decline", "named", "short")
}
# A Listen line of its own, naming a protocol other than http (see test_server_speaks_first).
GREET_PORT = free_port()


@pytest.fixture(scope="module")
def server(start_server):
    p = PORTS
    config = f"""
        <Directory "{{docroot}}/conn">
            SetHandler mod_python
            PythonHandler members
        </Directory>
        <VirtualHost 127.0.0.1:{p["echo"]}>
            ServerName echo.example
            PythonPath "sys.path + ['{{root}}/lib']"
            PythonConnectionHandler echo
        </VirtualHost>
        <VirtualHost 127.0.0.1:{p["proto"]}>
            ServerName proto.example
            PythonConnectionHandler {{root}}/lib/proto.py::commands
        </VirtualHost>
        <VirtualHost 127.0.0.1:{p["failing"]}>
            PythonConnectionHandler {{root}}/lib/proto.py::failing
        </VirtualHost>
        <VirtualHost 127.0.0.1:{p["none"]}>
            PythonConnectionHandler {{root}}/lib/proto.py::returns_none
        </VirtualHost>
        <VirtualHost 127.0.0.1:{p["decline"]}>
            PythonConnectionHandler {{root}}/lib/proto.py::decline
        </VirtualHost>
        <VirtualHost 127.0.0.1:{p["named"]}>
            ServerName named.example
            PythonInterpreter conn_interp
            PythonConnectionHandler {{root}}/lib/proto.py::commands
        </VirtualHost>
        Listen 127.0.0.1:{GREET_PORT} greeting
        <VirtualHost 127.0.0.1:{GREET_PORT}>
            PythonConnectionHandler {{root}}/lib/proto.py::greet
        </VirtualHost>
        <VirtualHost 127.0.0.1:{p["short"]}>
            Timeout 2
            PythonConnectionHandler {{root}}/lib/proto.py::commands
        </VirtualHost>
    """
    return start_server(
        config,
        files={
            "lib/echo.py": ECHO,
            "lib/proto.py": PROTO,
            "htdocs/conn/members.py": REQUEST_MEMBERS,
            "htdocs/hello.txt": "hello over HTTP\n",
        },
        listen_extra=list(PORTS.values()),
    )


# ---------------------------------------------------------------- helpers


class Client:
    """A raw TCP client that reads line by line."""

    def __init__(self, port: int, timeout: float = 20.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed before a full line; got {self.buf!r}")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed after {len(self.buf)} of {n} bytes")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def rest(self) -> bytes:
        """Everything until the server closes the connection."""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                data, self.buf = self.buf, b""
                return data
            self.buf += chunk

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def wait_for_log(server, text: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = server.error_log()
        if text in log:
            return log
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in the error log:\n{server.error_log()[-4000:]}")


def error_lines(log: str) -> list:
    return [line for line in log.splitlines() if ":error]" in line or "[error]" in line]


# ---------------------------------------------------------------- echo


def test_echo_several_lines(server):
    with Client(PORTS["echo"]) as c:
        for i in range(5):
            c.send(b"line %d\n" % i)
            assert c.line() == b"line %d\n" % i
        c.send(b"two\nat once\n")
        assert c.line() == b"two\n"
        assert c.line() == b"at once\n"


def test_echo_long_line_comes_back_whole(server):
    long_line = b"x" * 100_000 + b"\n"
    with Client(PORTS["echo"]) as c:
        c.send(long_line)
        assert c.exactly(len(long_line)) == long_line
    with Client(PORTS["proto"]) as c:
        # readline() hands the handler the whole line, not 8 kB pieces
        c.send(b"len\n" + long_line)
        assert c.line() == b"%d\n" % len(long_line)


def test_echo_binary_bytes(server):
    data = bytes(range(256)) * 4 + b"\xff\x00\r\n"
    with Client(PORTS["echo"]) as c:
        c.send(data)
        assert c.exactly(len(data)) == data


def test_client_close_ends_the_handler_quietly(server):
    marker = "echo: end of input after 3 lines"
    before = server.error_log().count(marker)
    with Client(PORTS["echo"]) as c:
        c.send(b"a\nb\nc\n")
        assert c.exactly(6) == b"a\nb\nc\n"
    deadline = time.monotonic() + 10
    while server.error_log().count(marker) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    log = server.error_log()
    assert log.count(marker) == before + 1
    assert "Traceback" not in log
    assert not [line for line in error_lines(log) if "echo" in line]


def test_half_close_gets_the_rest_then_eof(server):
    with Client(PORTS["echo"]) as c:
        c.send(b"last words\nno newline")
        c.sock.shutdown(socket.SHUT_WR)
        assert c.rest() == b"last words\nno newline"


def test_concurrent_clients(server):
    n = 4
    clients = [Client(PORTS["echo"]) for _ in range(n)]
    errors: list = []

    def talk(i: int, c: Client) -> None:
        try:
            for j in range(20):
                msg = b"client %d message %d\n" % (i, j)
                c.send(msg)
                assert c.line() == msg
        except BaseException as exc:  # reported below
            errors.append(exc)

    try:
        # every client is connected before any of them talks: they are all held open at once
        for c in clients:
            c.send(b"hello\n")
        for c in clients:
            assert c.line() == b"hello\n"
        threads = [threading.Thread(target=talk, args=(i, c)) for i, c in enumerate(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for c in clients:
            c.close()
    assert not errors, errors


def test_server_speaks_first(server):
    # With a protocol of its own on the Listen line, Apache does not wait for the
    # client's first bytes before accepting (Linux's TCP_DEFER_ACCEPT for "http").
    with Client(GREET_PORT) as c:
        started = time.monotonic()
        assert c.line() == b"220 hello\r\n"
        assert time.monotonic() - started < 10
        c.send(b"QUIT\r\n")
        assert c.line() == b"221 bye QUIT\r\n"


def test_apache_internal_dummy_connection_is_not_handled(server):
    dummy = b"OPTIONS * HTTP/1.0\r\nUser-Agent: Apache/2.4 (internal dummy connection)\r\n\r\n"
    with Client(PORTS["echo"]) as c:
        c.send(dummy)
        assert c.rest() == b""
    # anything more than exactly that request is the handler's
    with Client(PORTS["echo"]) as c:
        c.send(dummy + b"more\n")
        assert c.exactly(len(dummy) + 5) == dummy + b"more\n"
    with Client(PORTS["echo"]) as c:
        imitation = dummy.replace(b"\r\n\r\n", b"\r\nX: y\r\n\r\n")
        c.send(imitation)
        assert c.exactly(len(imitation)) == imitation


def test_not_http_on_the_handler_port(server):
    with Client(PORTS["echo"]) as c:
        c.send(b"GET / HTTP/1.0\r\n")
        assert c.line() == b"GET / HTTP/1.0\r\n"


# ---------------------------------------------------------------- reading and writing


def test_read_at_most_length(server):
    with Client(PORTS["proto"]) as c:
        c.send(b"read 5\nabcdefgh\n")
        assert c.line() == b"5:abcde\n"
        # the rest stays in the stream: the handler's next readline() gets it
        assert c.line() == b"unknown fgh\n"


def test_read_blocks_until_data_arrives(server):
    with Client(PORTS["proto"]) as c:
        c.send(b"read 4\n")
        time.sleep(0.5)
        c.send(b"wxyz")
        assert c.line() == b"4:wxyz\n"


def test_read_without_length_reads_until_eof(server):
    with Client(PORTS["proto"]) as c:
        c.send(b"readall\n" + b"x" * 50_000)
        c.sock.shutdown(socket.SHUT_WR)
        assert c.rest() == b"50000 50000\n"


def test_readline_with_limit(server):
    with Client(PORTS["proto"]) as c:
        c.send(b"readline 4\nabcdefgh\n")
        assert c.line() == b"b'abcd'\n"
        assert c.line() == b"unknown efgh\n"
        c.send(b"readline 100\nshort\n")
        assert c.line() == b"b'short\\n'\n"


def test_write_str_buffer_and_bad_type(server):
    with Client(PORTS["proto"]) as c:
        c.send(b"str\n")
        assert c.line().decode("utf-8") == "h\u00e9llo \u20ac\n"
        c.send(b"memoryview\n")
        assert c.line() == b"from a buffer\n"
        c.send(b"badwrite\n")
        assert c.line() == b"TypeError: write() takes str or a bytes-like object, not int\n"


def test_timeout_is_a_timeout_error_and_reading_goes_on(server):
    with Client(PORTS["short"]) as c:
        c.send(b"timeout\n")
        started = time.monotonic()
        line = c.line()
        assert line.startswith(b"TimeoutError: "), line
        assert b"Timeout" in line
        assert 1.0 < time.monotonic() - started < 15
        c.send(b"late\n")
        assert c.line() == b"again:late\n"


def test_log_error(server):
    with Client(PORTS["proto"]) as c:
        c.send(b"log hello-from-conn\n")
        assert c.line() == b"logged\n"
    log = wait_for_log(server, "conn.log_error says hello-from-conn")
    line = next(x for x in log.splitlines() if "conn.log_error says hello-from-conn" in x)
    assert "warn" in line
    assert "127.0.0.1" in line  # ap_log_cerror names the client
    line = next(x for x in log.splitlines() if "conn.log_error default level" in x)
    assert "error" in line


def test_handler_return_value_done_closes(server):
    with Client(PORTS["proto"]) as c:
        c.send(b"quit\nignored\n")
        assert c.rest() == b"bye\n"


# ---------------------------------------------------------------- members


def test_members_in_a_connection_handler(server):
    with Client(PORTS["proto"]) as c:
        c.send(b"info\n")
        info = json.loads(c.line())
        local = c.sock.getsockname()
    assert info["remote_ip"] == "127.0.0.1"
    assert info["remote_addr"] == [local[0], local[1]]
    assert info["local_addr"] == ["127.0.0.1", PORTS["proto"]]
    assert info["local_ip"] == "127.0.0.1"
    assert info["remote_host"] is None  # HostnameLookups Off: never looked up
    assert info["remote_logname"] is None
    assert info["aborted"] is False
    assert info["double_reverse"] == 0
    assert info["keepalives"] == 0
    assert info["keepalive"] == 0  # AP_CONN_UNKNOWN: no HTTP has decided anything
    assert info["local_host"] is None  # not looked up either
    assert isinstance(info["id"], int)
    assert info["base_server"] == "proto.example"
    assert info["is_virtual"] is True
    assert info["interpreter"] == "proto.example"
    assert info["notes"] == "yes"
    assert sorted(info["read_only"]) == sorted(
        [
            "base_server", "local_addr", "remote_addr", "remote_ip", "remote_host",
            "remote_logname", "aborted", "keepalive", "double_reverse", "keepalives",
            "local_ip", "local_host", "id", "notes",
        ]
    )  # fmt: skip


def test_python_interpreter_names_the_handlers_interpreter(server):
    with Client(PORTS["named"]) as c:
        c.send(b"info\n")
        info = json.loads(c.line())
    assert info["interpreter"] == "conn_interp"
    assert info["base_server"] == "named.example"


def test_connections_open_at_once_have_different_ids(server):
    clients = [Client(PORTS["proto"]) for _ in range(3)]
    try:
        ids = []
        for c in clients:
            c.send(b"info\n")
            ids.append(json.loads(c.line())["id"])
    finally:
        for c in clients:
            c.close()
    assert all(isinstance(i, int) for i in ids)
    assert len(set(ids)) == 3, ids


def test_members_through_req_connection_over_keepalive(server, mpm):
    conn = http.client.HTTPConnection("127.0.0.1", server.apache.cfg.port, timeout=20)
    try:
        seen = []
        for _ in range(3):
            conn.request("GET", "/conn/x")
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200, body
            seen.append(json.loads(body))
        local = conn.sock.getsockname()
    finally:
        conn.close()
    first = seen[0]
    assert first["remote_ip"] == "127.0.0.1"
    assert first["remote_addr"] == [local[0], local[1]]
    assert first["local_addr"] == ["127.0.0.1", server.apache.cfg.port]
    assert first["local_ip"] == "127.0.0.1"
    assert first["remote_host"] is None
    assert first["aborted"] is False
    assert first["base_server"] == "127.0.0.1"
    assert first["same_object"] is True
    # one connection: keepalives counting up, notes shared by its requests
    if mpm != "event":
        # the event MPM renumbers a connection for each worker thread that takes it up
        assert len({info["id"] for info in seen}) == 1
    assert [info["keepalives"] for info in seen] == [0, 1, 2]
    assert [info["count"] for info in seen] == [1, 2, 3]
    errors = first["errors"]
    assert errors["setattr"] == "AttributeError"
    for name in ("read", "readline", "write"):
        assert "only for connection handlers" in errors[name]
        assert f"req.{name}()" in errors[name]
    # a new connection has notes of its own
    fresh = server.get("/conn/x", headers={"Connection": "close"}).json()
    assert fresh["count"] == 1


# ---------------------------------------------------------------- errors and lifetime


def test_handler_exception_is_logged_and_the_server_keeps_serving(server):
    with Client(PORTS["failing"]) as c:
        c.send(b"trigger\n")
        assert c.rest() == b""  # closed, and no traceback sent
    log = wait_for_log(server, "ValueError: boom from the connection handler after b'trigger")
    errors = error_lines(log)
    assert any("PythonConnectionHandler" in line and "proto.py::failing" in line for line in errors)
    assert any("Traceback (most recent call last):" in line for line in errors)
    assert any("in failing" in line for line in errors)
    # the same server goes on: connection handlers and HTTP
    with Client(PORTS["echo"]) as c:
        c.send(b"still here\n")
        assert c.line() == b"still here\n"
    assert server.get("/hello.txt").text == "hello over HTTP\n"


def test_handler_returning_none_is_an_error(server):
    with Client(PORTS["none"]) as c:
        c.send(b"x\n")
        assert c.rest() == b""
    log = wait_for_log(server, "proto.py::returns_none failed")
    assert "returned None" in log


def test_http_port_keeps_serving_http(server):
    r = server.get("/hello.txt")
    assert r.status_code == 200
    assert r.text == "hello over HTTP\n"


def test_declined_lets_http_process_the_connection(server):
    with Client(PORTS["decline"]) as c:
        c.send(b"GET /hello.txt HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        response = c.rest()
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert response.endswith(b"\r\n\r\nhello over HTTP\n")


def test_declining_handler_runs_once_per_connection(server):
    with Client(PORTS["decline"]) as c:
        for _ in range(3):
            c.send(b"GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                head += c.exactly(1)
            assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
            assert c.exactly(len(b"hello over HTTP\n")) == b"hello over HTTP\n"
            time.sleep(0.2)  # let the event MPM park the connection between requests
        port = c.sock.getsockname()[1]
    tag = f"decline: called for port {port}\n"
    log = wait_for_log(server, tag)
    time.sleep(0.3)
    assert server.error_log().count(tag) == 1, log


def test_object_used_after_its_connection_ended(server):
    with Client(PORTS["proto"]) as c:
        c.send(b"stale\n")
        assert c.rest() == b"bye\n"
    log = wait_for_log(server, "stale notes:")
    for what in ("remote_ip", "write", "readline"):
        assert f"stale {what}: RuntimeError: this connection has ended" in log
    assert "stale notes: RuntimeError: this table belonged to a request or connection" in log
    assert "no error" not in log


def test_thread_blocked_in_read_when_the_handler_returns(server):
    with Client(PORTS["proto"]) as c:
        c.send(b"bgread\n")
        started = time.monotonic()
        # the handler returns after 0.3 s; the reader is woken, not left to the 30 s Timeout
        assert c.rest() == b""
        assert time.monotonic() - started < 10
    log = wait_for_log(server, "bgread got ")
    assert "bgread got b''" in log
    assert "bgread busy: connection.write(): another thread is reading or writing" in log


def test_no_other_handler_failed(server):
    """Run last: of all the connections above, only the failing handlers logged a failure."""
    time.sleep(0.5)
    failures = [
        line
        for line in server.error_log().splitlines()
        if "PythonConnectionHandler" in line and " failed:" in line
    ]
    unexpected = [
        line
        for line in failures
        if "proto.py::failing failed:" not in line and "proto.py::returns_none failed:" not in line
    ]
    assert not unexpected, server.error_log()[-6000:]
