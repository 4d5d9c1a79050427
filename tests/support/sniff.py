"""A TCP relay that records the first bytes of every connection it forwards, so a test can see
whether a client spoke TLS (a handshake record starts with 0x16 0x03) or plain HTTP ("GET /v2/…")."""

from __future__ import annotations

import contextlib
import socket
import threading


class SniffingRelay:
    def __init__(self, upstream_port: int, listen_host: str = "127.0.0.1") -> None:
        self.upstream_port = upstream_port
        family = socket.AF_INET6 if ":" in listen_host else socket.AF_INET
        self._server = socket.socket(family, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind((listen_host, 0))
        self._server.listen(16)
        self._server.settimeout(0.2)
        self.port: int = self._server.getsockname()[1]
        self.first_bytes: list[bytes] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> SniffingRelay:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._server.close()

    @property
    def saw_tls(self) -> bool:
        return any(first.startswith(b"\x16\x03") for first in self.first_bytes)

    @property
    def saw_plain_http(self) -> bool:
        return any(first[:4] in (b"GET ", b"HEAD", b"POST", b"PUT ") for first in self.first_bytes)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(10)
        try:
            first = client.recv(65536)
        except OSError:
            client.close()
            return
        with self._lock:
            self.first_bytes.append(first)
        if not first:
            client.close()
            return
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
        with self._lock:
            self._sockets += [client, upstream]
        upstream.sendall(first)
        back = threading.Thread(target=self._pipe, args=(upstream, client), daemon=True)
        back.start()
        self._threads.append(back)
        self._pipe(client, upstream)

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
