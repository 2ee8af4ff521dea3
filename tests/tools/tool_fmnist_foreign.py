#!/usr/bin/env python3
"""tool_fmnist_foreign.py SRC OUTDIR KIND N SEED: N foreign 28x28 grey PNGs for the OOD tests.

KIND flat:   one grey level per image, uniform in 0..255 (random.Random(SEED)), every pixel
             that level: no object, no texture.
KIND invert: the last N images of SRC's t10k-images-idx3-ubyte(.gz) (Debian's
             dataset-fashion-mnist), each pixel v written as 255 - v: a dark garment on a
             white ground, which the training set (white-ish garments on black) never has.
             They are not the first test images that scripts/make-fashion-mnist-lt takes for
             the ID test set. SEED is unused.
Writes OUTDIR/NNNNN.png and OUTDIR/list.txt (absolute paths, one a line); exits 1 with a
message when SRC lacks the idx file or it is malformed. Standard library and scripts/ltlib.
"""
import gzip
import os
import random
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from ltlib import png  # noqa: E402


def die(msg):
    sys.stderr.write("tool_fmnist_foreign: %s\n" % msg)
    sys.exit(1)


def t10k_images(src, n):
    for name, opener in (("t10k-images-idx3-ubyte.gz", gzip.open), ("t10k-images-idx3-ubyte", open)):
        path = os.path.join(src, name)
        if os.path.isfile(path):
            with opener(path, "rb") as f:
                data = f.read()
            break
    else:
        die("no t10k-images-idx3-ubyte(.gz) in %s; is dataset-fashion-mnist installed?" % src)
    if len(data) < 16:
        die("%s: truncated header" % path)
    magic, count, rows, cols = struct.unpack(">4I", data[:16])
    if magic != 2051 or (rows, cols) != (28, 28) or len(data) != 16 + count * 784 or count < n:
        die("%s: not an idx file of at least %d 28x28 images" % (path, n))
    return [data[16 + i * 784:16 + (i + 1) * 784] for i in range(count - n, count)]


def main(argv):
    if len(argv) != 6 or argv[3] not in ("flat", "invert"):
        die("usage: tool_fmnist_foreign.py SRC OUTDIR flat|invert N SEED")
    src, out, kind, n, seed = argv[1], os.path.abspath(argv[2]), argv[3], int(argv[4]), int(argv[5])
    if kind == "flat":
        r = random.Random(seed)
        images = [bytes([r.randrange(256)]) * 784 for _ in range(n)]
    else:
        images = [bytes(255 - v for v in img) for img in t10k_images(src, n)]
    os.makedirs(out, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        path = os.path.join(out, "%05d.png" % i)
        with open(path, "wb") as f:
            f.write(png(28, 28, img, 1))
        paths.append(path)
    with open(os.path.join(out, "list.txt"), "w") as f:
        f.write("".join(p + "\n" for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
