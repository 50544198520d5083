#!/usr/bin/env python3
"""Reference for shiftad::data::makeSplit: the documented seeded split, re-implemented
in pure Python (own MT19937-64, no numpy) so that splits can be reproduced outside C++.

usage: data_protocol_split.py SEED POOL_FRACTION CONTAMINATION NORMAL CLS:COUNT,...
Target records are "t/CLS/III.png" (III = 0..COUNT-1, 3 digits). Prints one line per
image: "pool PATH LABEL" in pool order, then "test PATH LABEL" in test order.
"""
import math
import sys

M64 = (1 << 64) - 1


class MT19937_64:
    def __init__(self, seed):
        self.mt = [0] * 312
        self.mt[0] = seed & M64
        for i in range(1, 312):
            prev = self.mt[i - 1]
            self.mt[i] = (6364136223846793005 * (prev ^ (prev >> 62)) + i) & M64
        self.idx = 312

    def _twist(self):
        for i in range(312):
            x = (self.mt[i] & 0xFFFFFFFF80000000) | (self.mt[(i + 1) % 312] & 0x7FFFFFFF)
            xa = x >> 1
            if x & 1:
                xa ^= 0xB5026F5AA96619E9
            self.mt[i] = self.mt[(i + 156) % 312] ^ xa
        self.idx = 0

    def __call__(self):
        if self.idx >= 312:
            self._twist()
        y = self.mt[self.idx]
        self.idx += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        return y & M64


def below(rng, n):
    limit = M64 - M64 % n
    while True:
        x = rng()
        if x < limit:
            return x % n


def shuffle(v, rng):
    for i in range(len(v), 1, -1):
        j = below(rng, i)
        v[i - 1], v[j] = v[j], v[i - 1]


def lround(x):  # C's llround for x >= 0: half away from zero
    return int(math.floor(x + 0.5))


def main():
    # Known outputs for the default seed 5489: the 1st, and the 10000th that the C++
    # standard fixes.
    check = MT19937_64(5489)
    outputs = [check() for _ in range(10000)]
    assert outputs[0] == 14514284786278117030 and outputs[-1] == 9981545732273789042

    seed, fraction, contamination, normal = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    counts = {c.split(":")[0]: int(c.split(":")[1]) for c in sys.argv[5].split(",")}
    rng = MT19937_64(seed)
    pool_norm, pool_anom, test = [], [], []
    for cls in sorted(counts):
        paths = sorted(f"t/{cls}/{i:03d}.png" for i in range(counts[cls]))
        shuffle(paths, rng)
        n_pool = lround(fraction * len(paths))
        label = 0 if cls == normal else 1
        (pool_norm if label == 0 else pool_anom).extend(paths[:n_pool])
        test.extend((p, label) for p in paths[n_pool:])
    wanted = lround(contamination * len(pool_norm) / (1.0 - contamination))
    shuffle(pool_anom, rng)
    pool = [(p, 0) for p in pool_norm] + [(p, 1) for p in pool_anom[:wanted]]
    order = list(range(len(pool)))
    shuffle(order, rng)
    for i in order:
        print("pool", pool[i][0], pool[i][1])
    for p, label in test:
        print("test", p, label)


if __name__ == "__main__":
    main()
