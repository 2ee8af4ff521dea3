#!/usr/bin/python3
"""Fashion-MNIST idx files for the demo's tests (no Debian dataset needed).

    tool_fake_fmnist.py DIR

Writes DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz: 10 classes, 60 training and
6 test images of each, the classes interleaved (0 1 ... 9 0 1 ...). Class c is a bright
bar at rows 2c+2 .. 2c+5 over noise in [0, 60), so a small network learns it; pixel 0
holds the image's index within its class (inside the noise range), so that a test can
tell which images a split took.
"""
import gzip
import os
import random
import struct
import sys


def write(d, stem, n_per, r):
    labs = [c for _ in range(n_per) for c in range(10)]
    px = bytearray()
    for i, c in enumerate(labs):
        img = bytearray(r.randrange(60) for _ in range(784))
        for y in range(2 * c + 2, 2 * c + 6):
            for x in range(4, 24):
                img[y * 28 + x] = 200 + r.randrange(56)
        img[0] = i // 10
        px += img
    with gzip.open("%s/%s-images-idx3-ubyte.gz" % (d, stem), "wb") as f:
        f.write(struct.pack(">IIII", 2051, len(labs), 28, 28) + px)
    with gzip.open("%s/%s-labels-idx1-ubyte.gz" % (d, stem), "wb") as f:
        f.write(struct.pack(">II", 2049, len(labs)) + bytes(labs))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: tool_fake_fmnist.py DIR")
    d = sys.argv[1]
    os.makedirs(d)
    r = random.Random(3)
    write(d, "train", 60, r)
    write(d, "t10k", 6, r)


if __name__ == "__main__":
    main()
