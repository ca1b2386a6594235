from collections import Counter

def count_lines(
    data: bytes,
    counts: Counter[tuple[bytes, bytes, int, bytes, bytes]],
    readers: dict[tuple[int, bytes, bytes], set[bytes]],
    first: dict[tuple[bytes, bytes], int],
    last: dict[tuple[bytes, bytes], int],
) -> tuple[int, int, int]: ...
