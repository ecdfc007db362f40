import socket


def free_port() -> int:
    """A port on 127.0.0.1 nobody listens on right now (servers in tests bind loopback only)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
