#!/usr/bin/python3
"""PyTorch twin of cfg/resnet32-cifar.cfg, timed the way scripts/bench/dn_bench.c times Darknet.

    resnet32_torch.py [--train N] [--infer N] [--warmup N] [--batch B] [--threads T]
                      [--seed S] [--check DIR] [--check-only]

The network: stem conv3x3 16 + BN + ReLU; three stages of five basic blocks (16, 32, 64
filters; the first block of stages 2 and 3 has stride 2 and a 1x1 stride-2 conv + BN
projection shortcut); global average pooling; linear 64 -> 10; softmax cross-entropy.
Convs have no bias (batch-norm supplies the shift), as in Darknet with batch_normalize=1.

Timed loops on one generated batch (uniform [0, 1) images, random labels):
  training:  zero_grad, forward, cross-entropy, backward, SGD step (lr 0.1, momentum 0.9,
             weight decay 0.0002 on conv and fc weights only, as Darknet decays only those);
  inference: eval mode, no autograd, forward and softmax.
"Cores busy" is CPU time over wall time: well under --threads means the run was slowed by
other work on the machine (or by a framework that does not use all its threads).

With --check DIR it first loads the Darknet weights file and batch written by
`dn_bench --dump DIR`, runs a training-mode forward pass (batch statistics) and compares
the softmax output and the loss with Darknet's; a mismatch is an error (exit 1). The timed
loops then start from those weights on that batch, as Darknet's do. --check-only stops after
the check (scripts/bench-cpu checks each Darknet build that way).

The last stdout line is machine-readable:
  RESULT params=P batch=B train_img_s=T infer_img_s=I loss=L
"""
import argparse
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.proj = None
        if stride != 1 or cin != cout:
            self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False),
                                      nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.proj is None else self.proj(x)))

    def conv_bn_pairs(self):
        """(conv, bn) in the order Darknet stores them: main path, then projection."""
        pairs = [(self.conv1, self.bn1), (self.conv2, self.bn2)]
        if self.proj is not None:
            pairs.append((self.proj[0], self.proj[1]))
        return pairs


class ResNet32(nn.Module):
    def __init__(self, classes=10, blocks=5, widths=(16, 32, 64)):
        super().__init__()
        self.conv = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(widths[0])
        layers, cin = [], widths[0]
        for s, w in enumerate(widths):
            for b in range(blocks):
                layers.append(BasicBlock(cin, w, 2 if s > 0 and b == 0 else 1))
                cin = w
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        x = self.blocks(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)

    def conv_bn_pairs(self):
        pairs = [(self.conv, self.bn)]
        for blk in self.blocks:
            pairs += blk.conv_bn_pairs()
        return pairs


def fail(msg):
    print(f"resnet32_torch: error: {msg}", file=sys.stderr)
    sys.exit(1)


def load_darknet_weights(model, path):
    """Darknet weights file: int major, minor, revision; seen (size_t from version 0.2);
    then per conv: BN shift (biases), BN scales, rolling mean, rolling variance, weights;
    then the connected layer: biases, weights (outputs x inputs)."""
    with open(path, "rb") as f:
        major, minor, _ = struct.unpack("<3i", f.read(12))
        f.read(8 if major * 10 + minor >= 2 else 4)
        data = np.frombuffer(f.read(), dtype="<f4")
    pos = 0

    def take(t):
        nonlocal pos
        n = t.numel()
        if pos + n > data.size:
            fail(f"{path}: too short for this network")
        t.copy_(torch.from_numpy(data[pos:pos + n].copy()).view_as(t))
        pos += n

    with torch.no_grad():
        for conv, bn in model.conv_bn_pairs():
            for t in (bn.bias, bn.weight, bn.running_mean, bn.running_var, conv.weight):
                take(t)
        take(model.fc.bias)
        take(model.fc.weight)
    if pos != data.size:
        fail(f"{path}: {data.size - pos} values left over after the last layer")


def check_against_darknet(model, d, batch):
    load_darknet_weights(model, os.path.join(d, "weights"))
    x = torch.from_numpy(np.fromfile(os.path.join(d, "input.f32"), "<f4").copy())
    t = torch.from_numpy(np.fromfile(os.path.join(d, "truth.f32"), "<f4").copy())
    want = torch.from_numpy(np.fromfile(os.path.join(d, "output.f32"), "<f4").copy())
    if x.numel() != batch * 3 * 32 * 32 or t.numel() != batch * 10 or want.numel() != batch * 10:
        fail(f"{d}: the check files do not hold a batch of {batch}")
    with open(os.path.join(d, "cost.txt")) as f:
        dn_loss = float(f.read()) / batch
    x, t, want = x.view(batch, 3, 32, 32), t.view(batch, 10), want.view(batch, 10)
    model.train()
    with torch.no_grad():
        logits = model(x)
        got = F.softmax(logits, 1)
        loss = F.cross_entropy(logits, t.argmax(1)).item()
    diff = (got - want).abs().max().item()
    agree = (got.argmax(1) == want.argmax(1)).float().mean().item()
    print(f"resnet32_torch: check against Darknet (same weights and batch, training-mode "
          f"forward): max |softmax difference| = {diff:.2e}, same top class for "
          f"{agree * 100:.0f}% of images, loss {loss:.6f} vs Darknet {dn_loss:.6f}")
    if not (diff < 1e-3 and abs(loss - dn_loss) < 1e-3 * max(1.0, abs(dn_loss))):
        fail("the PyTorch network does not compute what the Darknet cfg computes")
    return x, t.argmax(1)


def timed_loop(fn, warmup, n):
    """(wall seconds, process CPU seconds, last return value) of n calls of fn, timed after
    warmup untimed calls; shared by the PyTorch benches so that they all time alike."""
    for _ in range(warmup):
        fn()
    out = None
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def cifar_sgd(model):
    """SGD as the ResNet-32 cfgs train: lr 0.1, momentum 0.9, decay 2e-4 on the convolution
    and linear weights only (Darknet decays no bias or batch-norm parameter)."""
    decay = [p for n, p in model.named_parameters() if n.endswith("weight") and p.dim() > 1]
    other = [p for n, p in model.named_parameters() if not (n.endswith("weight") and p.dim() > 1)]
    return torch.optim.SGD([{"params": decay, "weight_decay": 2e-4},
                            {"params": other, "weight_decay": 0.0}], lr=0.1, momentum=0.9)


def ce_train_step(model, opt, x, y, forward=None):
    """A function making one step (zero_grad, forward, cross-entropy, backward, update) on
    the batch x [B, 3, 32, 32], y [B]; returns the loss. forward: model(x) by default."""
    forward = forward or model

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(forward(x), y)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", type=int, default=10)
    ap.add_argument("--infer", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--check", metavar="DIR")
    ap.add_argument("--check-only", action="store_true")
    a = ap.parse_args()
    if a.check_only and not a.check:
        fail("--check-only needs --check DIR")
    if min(a.train, a.infer, a.batch, a.threads) < 1 or a.warmup < 0:
        fail("counts must be positive")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = ResNet32()
    params = sum(p.numel() for p in model.parameters())
    print(f"resnet32_torch: torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{params} parameters, batch {a.batch}")

    if a.check:
        # Time from Darknet's initial weights on Darknet's batch: both sides then run the
        # same steps, and their final losses should be close.
        x, y = check_against_darknet(model, a.check, a.batch)
        if a.check_only:
            return
    else:
        x = torch.rand(a.batch, 3, 32, 32)
        y = torch.randint(0, 10, (a.batch,))
    model.train()
    train_s, train_cpu, loss = timed_loop(ce_train_step(model, cifar_sgd(model), x, y), a.warmup, a.train)
    if not np.isfinite(loss):
        fail("training loss is not finite")
    print(f"resnet32_torch: training:  {a.train} batches in {train_s:.3f} s, "
          f"{a.train * a.batch / train_s:.1f} images/s, {train_cpu / train_s:.2f} cores busy "
          f"(loss {loss:.4f})")

    model.eval()
    with torch.no_grad():
        infer_s, infer_cpu, out = timed_loop(lambda: F.softmax(model(x), 1), a.warmup, a.infer)
    if not torch.isfinite(out).all():
        fail("inference output is not finite")
    print(f"resnet32_torch: inference: {a.infer} batches in {infer_s:.3f} s, "
          f"{a.infer * a.batch / infer_s:.1f} images/s, {infer_cpu / infer_s:.2f} cores busy")
    print(f"RESULT params={params} batch={a.batch} train_img_s={a.train * a.batch / train_s:.2f} "
          f"infer_img_s={a.infer * a.batch / infer_s:.2f} loss={loss:.5f}")


if __name__ == "__main__":
    main()
