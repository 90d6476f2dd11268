"""Kafka's default key → partition mapping (murmur2, as the Java client), hashed in C.

aiokafka's ``DefaultPartitioner`` hashes byte by byte in pure Python, once per record: on the
intake's hot path that was a noticeable share of a request. ``murmurhash2`` is the same
MurmurHash2 in C; tests hold the partition to aiokafka's for any key, so records of one
conversation land where they always did, whichever version of a service produced them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from murmurhash2 import murmurhash2

# (key, all partitions, available partitions) -> partition, as aiokafka's ``partitioner=``.
Partitioner = Callable[[bytes | None, Sequence[int], Sequence[int]], int]

_SEED = 0x9747B28C  # Kafka's (Utils.murmur2)


def default_partition(
    key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]
) -> int:
    """Drop-in for aiokafka's ``DefaultPartitioner`` (the producer's ``partitioner=``)."""
    if key is None:
        return random.choice(available or all_partitions)
    return all_partitions[(murmurhash2(key, _SEED) & 0x7FFFFFFF) % len(all_partitions)]
