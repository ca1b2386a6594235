"""Types of the pixel's compiled front (republish/pixel/_native.c)."""

from collections.abc import Callable

MAX_HEAD: int
N_TEMPLATES: int

class Server:
    def __init__(
        self,
        templates: list[bytes],
        errors: tuple[bytes, bytes],
        client_ip_header: bytes,
        ua_facts: Callable[[bytes], tuple[int, bytes]],
        referer_facts: Callable[[bytes], tuple[bytes, bool]],
        salt_for_day: Callable[[int], bytes],
        segment: Callable[[int, int], tuple[int, bool]],
        failed: Callable[[int, str], object],
        idle_timeout: float = 5.0,
    ) -> None: ...
    def serve(self, listen_fd: int, wake_fd: int = -1, /) -> None: ...
    def stop(self) -> None: ...
    def counts(self) -> tuple[int, int]: ...

def visitor_hash(key: bytes, message: bytes, /) -> str: ...
def crc32(data: bytes, /) -> int: ...
