#!/usr/bin/env python3
"""tool_fmnist_foreign.py SRC OUTDIR KIND N SEED: N foreign 28x28 PNGs for the OOD tests.

KIND flat:     one grey level per image, uniform in 0..255 (random.Random(SEED)), every pixel
               that level: no object, no texture.
KIND invert:   the last N images of SRC's t10k-images-idx3-ubyte(.gz) (Debian's
               dataset-fashion-mnist), each pixel v written as 255 - v: a dark garment on a
               white ground, which the training set (white-ish garments on black) never has.
               They are not the first test images that scripts/make-fashion-mnist-lt takes for
               the ID test set. SEED is unused.
KIND channels: three t10k garments of three different classes in the R, G and B planes of
               one RGB image; random.Random(SEED) draws each image's three classes and which
               image of each (no image twice), from the 1000 t10k images before those last 100.
               Every training image is grey (R = G = B everywhere), so the first convolution
               gets the same gradient in each of its input channels: such an image reaches the
               network roughly as the mean of the three garments plus what the never-trained
               differences between its per-channel weights make of it (see
               tests/e2e/test_ricasso_detects.sh).
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

KINDS = ("flat", "invert", "channels")


def die(msg):
    sys.stderr.write("tool_fmnist_foreign: %s\n" % msg)
    sys.exit(1)


def read_idx(src, stem):
    for name, opener in ((stem + ".gz", gzip.open), (stem, open)):
        path = os.path.join(src, name)
        if os.path.isfile(path):
            with opener(path, "rb") as f:
                return path, f.read()
    die("no %s(.gz) in %s; is dataset-fashion-mnist installed?" % (stem, src))


def t10k_images(src, n, skip=0):
    """The n t10k images before the last `skip` ones."""
    path, data = read_idx(src, "t10k-images-idx3-ubyte")
    if len(data) < 16:
        die("%s: truncated header" % path)
    magic, count, rows, cols = struct.unpack(">4I", data[:16])
    # The pool must stay clear of the first 1000 images, where the ID test set's are.
    if magic != 2051 or (rows, cols) != (28, 28) or len(data) != 16 + count * 784 or count < n + skip + 1000:
        die("%s: not an idx file of at least %d 28x28 images" % (path, n + skip + 1000))
    return [data[16 + i * 784:16 + (i + 1) * 784] for i in range(count - skip - n, count - skip)]


def t10k_labels(src, n, skip=0):
    """The labels of t10k_images(src, n, skip)."""
    path, data = read_idx(src, "t10k-labels-idx1-ubyte")
    magic, count = struct.unpack(">2I", data[:8]) if len(data) >= 8 else (0, 0)
    if magic != 2049 or len(data) != 8 + count or count < n + skip or max(data[8:]) > 9:
        die("%s: not an idx label file of at least %d labels 0..9" % (path, n + skip))
    return list(data[8 + count - skip - n:8 + count - skip])


def channels(src, n, r):
    pool, labels = t10k_images(src, 1000, 100), t10k_labels(src, 1000, 100)
    by_class = [[img for img, c in zip(pool, labels) if c == k] for k in range(10)]
    for imgs in by_class:
        r.shuffle(imgs)
    images = []
    for _ in range(n):
        three = [by_class[k].pop() if by_class[k] else die("channels: %d images is more than the pool holds" % n)
                 for k in r.sample(range(10), 3)]
        images.append(bytes(v for px in zip(*three) for v in px))
    return images


def main(argv):
    if len(argv) != 6 or argv[3] not in KINDS:
        die("usage: tool_fmnist_foreign.py SRC OUTDIR %s N SEED" % "|".join(KINDS))
    src, out, kind, n, seed = argv[1], os.path.abspath(argv[2]), argv[3], int(argv[4]), int(argv[5])
    r = random.Random(seed)
    nchan = 1
    if kind == "flat":
        images = [bytes([r.randrange(256)]) * 784 for _ in range(n)]
    elif kind == "invert":
        images = [bytes(255 - v for v in img) for img in t10k_images(src, n)]
    else:
        nchan = 3
        images = channels(src, n, r)
    os.makedirs(out, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        path = os.path.join(out, "%05d.png" % i)
        with open(path, "wb") as f:
            f.write(png(28, 28, img, nchan))
        paths.append(path)
    with open(os.path.join(out, "list.txt"), "w") as f:
        f.write("".join(p + "\n" for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
