"""A TCP proxy in front of PostgreSQL that can hang or drop the connections it carries: how the
outage tests make a real database stop answering (``tests/test_db_outage.py``)."""
from __future__ import annotations

import socket
import threading


class Proxy:
    """A TCP proxy on 127.0.0.1 in front of ``upstream`` that can hang or drop connections."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.flowing = threading.Event()
        self.flowing.set()
        self.kill_on: bytes | None = None
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._open, args=(client,), daemon=True).start()

    def _open(self, client):
        self.flowing.wait()  # hanging: accepted, but nothing ever reaches the server
        try:
            server = socket.create_connection(self.upstream)
        except OSError:
            client.close()
            return
        with self.lock:
            self.pairs.append((client, server))
        for src, dst, watch in ((client, server, True), (server, client, False)):
            threading.Thread(target=self._pump, args=(src, dst, watch), daemon=True).start()

    def _pump(self, src, dst, watch):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                self.flowing.wait()  # hanging: bytes stay here, unanswered
                if watch and self.kill_on and self.kill_on in data:
                    self.kill_on = None
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def hang(self):
        self.flowing.clear()

    def resume(self):
        self.flowing.set()

    def drop(self):
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def drop_on(self, marker: bytes):
        self.kill_on = marker

    def close(self):
        self.closed = True
        self.resume()
        self.listener.close()
        self.drop()
