#!/usr/bin/python3
"""PyTorch's ResNet-32 (scripts/bench/resnet32_torch.py) in float and under bf16 autocast.

    resnet32_torch_bf16.py [--train N] [--infer N] [--warmup N] [--batch B] [--threads T]
                           [--seed S]

scripts/bench/part-bf16.sh runs it beside Darknet's [net] bf16=1. The same network, batch
and loops as resnet32_torch.py (training: zero_grad, forward, cross-entropy, backward, SGD
step; inference: eval mode, no autograd, forward and softmax), timed twice in this one
process: in float, then with torch.autocast("cpu", dtype=torch.bfloat16) around the forward
pass (PyTorch then runs convolutions and the linear layer in bf16 and keeps float weights,
as Darknet's bf16=1 does). Both runs start from the same initial weights.

The last stdout line is machine-readable:
  RESULT f32_train_img_s=T f32_infer_img_s=I bf16_train_img_s=T bf16_infer_img_s=I
with bf16_...=nan when this PyTorch cannot autocast to bf16 on the CPU (the reason is
printed before it).
"""
import argparse
import copy
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resnet32_torch import ResNet32, ce_train_step, cifar_sgd, timed_loop  # noqa: E402


def fail(msg):
    print(f"resnet32_torch_bf16: error: {msg}", file=sys.stderr)
    sys.exit(1)


def timed(model, x, y, a, bf16):
    """(train images/s, infer images/s, last training loss) of model on the batch x, y."""
    def forward(inp):
        if bf16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return model(inp).float()
        return model(inp)

    model.train()
    train_s, _, loss = timed_loop(ce_train_step(model, cifar_sgd(model), x, y, forward), a.warmup, a.train)
    if not np.isfinite(loss):
        fail(f"{'bf16' if bf16 else 'float'} training loss is not finite")
    model.eval()
    with torch.no_grad():
        infer_s, _, out = timed_loop(lambda: F.softmax(forward(x), 1), a.warmup, a.infer)
    if not torch.isfinite(out).all():
        fail(f"{'bf16' if bf16 else 'float'} inference output is not finite")
    return a.train * a.batch / train_s, a.infer * a.batch / infer_s, loss


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", type=int, default=10)
    ap.add_argument("--infer", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if min(a.train, a.infer, a.batch, a.threads) < 1 or a.warmup < 0:
        fail("counts must be positive")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    start = ResNet32()
    x = torch.rand(a.batch, 3, 32, 32)
    y = torch.randint(0, 10, (a.batch,))
    print(f"resnet32_torch_bf16: torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"batch {a.batch}, oneDNN (mkldnn) {'available' if torch.backends.mkldnn.is_available() else 'not built in'}")

    ft, fi, fl = timed(copy.deepcopy(start), x, y, a, False)
    print(f"resnet32_torch_bf16: float:         training {ft:.1f} images/s (loss {fl:.4f}), inference {fi:.1f} images/s")
    try:
        bt, bi, bl = timed(copy.deepcopy(start), x, y, a, True)
        print(f"resnet32_torch_bf16: bf16 autocast: training {bt:.1f} images/s (loss {bl:.4f}), inference {bi:.1f} images/s")
    except (RuntimeError, TypeError, AttributeError) as e:
        print(f"resnet32_torch_bf16: bf16 autocast unavailable here: {e}")
        bt = bi = float("nan")
    print(f"RESULT f32_train_img_s={ft:.2f} f32_infer_img_s={fi:.2f} "
          f"bf16_train_img_s={bt:.2f} bf16_infer_img_s={bi:.2f}")


if __name__ == "__main__":
    main()
