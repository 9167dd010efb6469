"""IVF-PQ parameters that scale with the collection, shared by faiss and cuVS IVF-PQ.

An IVF-PQ build trains two k-means: the coarse quantiser (``nlist`` centroids over
whole vectors) and the product quantiser (``m`` codebooks of ``2**nbits`` centroids
over ``dim / m``-wide slices). Both cost about ``training points x centroids x dim``,
so fixed parameters are wrong at both ends of the size range:

- small collections: 8-bit codebooks want 256 x 39 = 9,984 training points; with
  2,416 vectors the data had to be topped up with jittered copies to that size, and
  the build took 96 s on a busy 2-core VM. ``nbits`` now shrinks with the data
  (``2**nbits x 39 <= n``, 4 to 8 bits) so every codebook trains on real points:
  ``benchmarks/ann.py --ivfpq-only`` (2,416 SciFact abstracts, 809 queries) builds in
  0.40 s instead of 10.85 s on a quiet VM (3.0 s instead of 33.7 s on a busy one), at
  recall@10 0.991 instead of 0.995;
- large collections: training on every vector costs memory (the residuals of all
  n) and time for nothing: k-means needs tens of points per centroid, and faiss
  samples down to 256 per centroid anyway. Training uses a seeded random sample of
  ``TRAIN_POINTS_PER_CENTROID`` points per centroid of the larger k-means.

Narrower codes rank candidates more coarsely, so the exact re-rank of raw vectors
takes ``2**(8 - nbits)`` times more of them (``rerank_depth``): on the contract
suite's clustered 32-d vectors, 6-bit codes with the byte-code depth reach recall@10
0.91, with the scaled depth 0.99 (8-bit codes: 0.985); the extra candidates are a
few hundred dot products, and only small collections get narrow codes.

``nlist`` is ``4 * sqrt(n)`` (faiss's guidance is 4 to 16 times sqrt(n)), at least
``MIN_POINTS_PER_CENTROID`` points per list and at most ``NLIST_MAX`` lists; ``m`` is
about ``dim / 4`` (4-dimensional sub-vectors: 4x compression of float32 at 8 bits),
a divisor of ``dim`` for faiss. Values the caller gives are kept (``nlist`` is still
clamped to the data, as faiss requires).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_POINTS_PER_CENTROID = 39  # faiss's k-means warns below this many points per centroid
TRAIN_POINTS_PER_CENTROID = 64  # the training sample: this many per centroid (faiss caps 256)
NLIST_MAX = 65_536  # coarse centroids; beyond this the quantiser itself is a big search
NBITS_MIN, NBITS_MAX = 4, 8  # 4-bit codes are cuVS's floor; 8 is the usual byte code


@dataclass(frozen=True)
class IVFPQPlan:
    """What an IVF-PQ build over ``n`` vectors trains: lists, sub-quantisers, code bits,
    and how many vectors the k-means see (``train_size <= n``; more means jittered
    copies, only when the caller asked for more code bits than the data supports)."""

    nlist: int
    m: int
    nbits: int
    train_size: int


def auto_m(dim: int) -> int:
    """Sub-quantisers for ``dim``: the divisor of ``dim`` nearest ``dim / 4`` (by ratio).

    faiss needs ``dim % m == 0``. For a dimension with no divisor near ``dim / 4``
    (a prime, say) the nearest in ratio may be ``dim`` itself (1-wide sub-vectors:
    a scalar quantiser, larger codes but never the 1-codebook collapse of ``m = 1``).
    """
    dim = int(dim)
    target = max(1.0, dim / 4)
    divisors = [d for d in range(1, dim + 1) if dim % d == 0]
    return min(divisors, key=lambda d: (abs(math.log(d / target)), -d))


def auto_nlist(n: int) -> int:
    """``4 * sqrt(n)`` coarse lists before clamping to the data (see ``plan_ivfpq``)."""
    return max(1, int(4 * math.sqrt(max(0, n))))


def auto_nbits(n: int) -> int:
    """The most code bits (4..8) whose codebooks train on real points: ``2**b * 39 <= n``."""
    bits = NBITS_MIN
    while bits < NBITS_MAX and 2 ** (bits + 1) * MIN_POINTS_PER_CENTROID <= n:
        bits += 1
    return bits


def plan_ivfpq(
    n: int,
    dim: int,
    *,
    nlist: int | None = None,
    m: int | None = None,
    nbits: int | None = None,
    byte_codes: bool = False,
) -> IVFPQPlan:
    """The IVF-PQ parameters for ``n`` vectors of ``dim``; given values win.

    ``byte_codes``: round ``m`` up so that ``m * nbits`` is a whole number of bytes
    (cuVS requires it; it pads ``dim`` with a rotation when ``m`` does not divide it).
    """
    n, dim = int(n), int(dim)
    if n < 0 or dim <= 0:
        raise ValueError(f"IVF-PQ plan needs n >= 0 and dim > 0, got n={n}, dim={dim}")
    lists = int(nlist) if nlist else auto_nlist(n)
    lists = max(1, min(lists, NLIST_MAX, n // MIN_POINTS_PER_CENTROID))
    bits = int(nbits) if nbits else auto_nbits(n)
    subq = int(m) if m else auto_m(dim)
    if byte_codes and (subq * bits) % 8:
        step = 8 // math.gcd(bits, 8)
        subq = -(-subq // step) * step
    wanted = TRAIN_POINTS_PER_CENTROID * max(lists, 2**bits)
    least = MIN_POINTS_PER_CENTROID * 2**bits  # below this the codebooks are padded
    train = max(min(n, wanted), least)
    return IVFPQPlan(nlist=lists, m=subq, nbits=bits, train_size=train)


def rerank_depth(k: int, refine_factor: int, nbits: int) -> int:
    """Candidates fetched by code and re-ranked exactly: ``k * refine_factor``, times
    ``2**(8 - nbits)`` for codes narrower than a byte (``refine_factor=0``: just ``k``)."""
    if not refine_factor:
        return int(k)
    return int(k) * int(refine_factor) * 2 ** max(0, NBITS_MAX - int(nbits))
