"""Kafka's default key → partition mapping (murmur2, as the Java client), in fewer Python steps.

aiokafka's ``DefaultPartitioner`` hashes byte by byte in pure Python, once per record: on the
intake's hot path that is a noticeable share of a request. This reads the key four bytes at a
time and gives the same partition for every key (tests hold it to aiokafka's), so records of
one conversation land where they always did, whichever version of a service produced them.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Sequence

# (key, all partitions, available partitions) -> partition, as aiokafka's ``partitioner=``.
Partitioner = Callable[[bytes | None, Sequence[int], Sequence[int]], int]

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """MurmurHash2 of ``data`` as an unsigned 32-bit int (Kafka's ``Utils.murmur2``)."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    blocks = length // 4
    for k in struct.unpack_from(f"<{blocks}I", data):
        k = (k * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    extra = length & 3
    if extra:
        tail = data[blocks * 4 :]
        if extra == 3:
            h ^= tail[2] << 16
        if extra >= 2:
            h ^= tail[1] << 8
        h = ((h ^ tail[0]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def default_partition(
    key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]
) -> int:
    """Drop-in for aiokafka's ``DefaultPartitioner`` (the producer's ``partitioner=``)."""
    if key is None:
        return random.choice(available or all_partitions)
    return all_partitions[(murmur2(key) & 0x7FFFFFFF) % len(all_partitions)]
