"""The harness's view of connections Apache still holds (before a full restart)."""

from __future__ import annotations

import socket
import time

from mod_python._httpd.process import server_connections


def _wait_for(port: int, count: int) -> int:
    deadline = time.monotonic() + 5
    while (seen := server_connections(port)) != count and time.monotonic() < deadline:
        time.sleep(0.01)
    return seen


def test_server_connections_counts_held_sockets_only() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        assert server_connections(port) == 0  # the listening socket is no connection
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        client2 = socket.create_connection(("127.0.0.1", port))
        accepted2, _ = listener.accept()
        try:
            assert _wait_for(port, 2) == 2
            # The server closes first: its side goes to FIN_WAIT/TIME_WAIT, held by no one.
            accepted.close()
            client.close()
            assert _wait_for(port, 1) == 1
            # The client closes first: CLOSE_WAIT is still a connection the server holds.
            client2.close()
            time.sleep(0.05)
            assert server_connections(port) == 1
            accepted2.close()
            assert _wait_for(port, 0) == 0
        finally:
            for sock in (client, accepted, client2, accepted2):
                sock.close()
