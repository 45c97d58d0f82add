#!/usr/bin/env python3
"""hnswlib (the HNSW paper author's C++ library, Debian's python3-hnswlib)
on the indexbench `random` and `neardup` datasets' distributions, as a
reference for semgate's own HNSW on the same data shape and parameters.

    apt-get install -y python3-hnswlib python3-numpy
    /usr/bin/python3 hnswlib_random.py N M THREADS [EF,EF,...]
    /usr/bin/python3 hnswlib_random.py 100000 24 2
    /usr/bin/python3 hnswlib_random.py 1000000 24 2 64,128,192,256,512

N random unit vectors of 256 dimensions (inner product); 300 random unit
queries (recall@10 against brute force) and 300 near-duplicate queries (a
stored vector moved to cosine 0.95, recall@1), M as given, ef_construction
200. The vectors are not the Go benchmark's (another generator), only the
same distribution. The per-query time is Python-driven, one query at a
time, so it includes the binding's overhead: compare recall, not latency.
"""
import sys
import time

import hnswlib
import numpy as np

n, m = int(sys.argv[1]), int(sys.argv[2])
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
efs = [int(e) for e in (sys.argv[4] if len(sys.argv) > 4 else "64,128,256,512,1024").split(",")]
d, nq = 256, 300
rng = np.random.default_rng(1)
X = rng.standard_normal((n, d)).astype(np.float32)
X /= np.linalg.norm(X, axis=1, keepdims=True)
Q = rng.standard_normal((nq, d)).astype(np.float32)
Q /= np.linalg.norm(Q, axis=1, keepdims=True)
idx = rng.integers(0, n, nq)
B = X[idx]
N = rng.standard_normal((nq, d)).astype(np.float32)
N -= (N * B).sum(1, keepdims=True) * B
N /= np.linalg.norm(N, axis=1, keepdims=True)
ND = 0.95 * B + np.sqrt(1 - 0.95**2) * N
gt = np.argpartition(-(Q @ X.T), 10, axis=1)[:, :10]

p = hnswlib.Index(space="ip", dim=d)
p.init_index(max_elements=n, M=m, ef_construction=200, random_seed=1)
p.set_num_threads(threads)
t = time.time()
p.add_items(X, np.arange(n))
bt = time.time() - t
print("build %.1fs %.0f/s with %d threads" % (bt, n / bt, threads), flush=True)
for ef in efs:
    p.set_ef(ef)
    p.set_num_threads(threads)
    labels, _ = p.knn_query(Q, k=10)
    r10 = np.mean([len(set(labels[i]) & set(gt[i])) / 10 for i in range(nq)])
    l1, _ = p.knn_query(ND, k=1)
    r1 = np.mean(l1[:, 0] == idx)
    p.set_num_threads(1)
    t = time.time()
    for i in range(nq):
        p.knn_query(Q[i : i + 1], k=10)
    ms = (time.time() - t) / nq * 1e3
    print("ef %d random r@10 %.3f neardup r@1 %.3f  mean %.2f ms" % (ef, r10, r1, ms), flush=True)
