#!/usr/bin/python3
"""PyTorch twin of the RICASSO training step of cfg/ricasso-resnet32-cifar10.cfg, checked
against Darknet's step and timed the way scripts/bench/dn_bench.c times it.

    ricasso_torch.py --from DIR [--steps N] [--warmup N] [--infer N] [--threads T]
                     [--tolerance E] [--check-dtype float32|float64] [--check-only] [--show N]

DIR holds the files of `dn_bench CFG --steps N --twin-dump DIR` (see dn_bench.c): Darknet's
layer table, its initial parameters, the generated batch, the pairing its [mixdata] layer
drew, and after one forward and backward pass the costs, the outputs the loss layers read
and the gradient of every parameter.

The network (written here by hand, then checked against Darknet's layer table):
  stem conv3x3 16 + BN + ReLU and stage 1 (five basic blocks, 16 channels), shared;
  per expert (three): stages 2 and 3 (five basic blocks each, 32 and 64 channels, the first
  block of each at stride 2 with LGLA's option-A shortcut: the block's input sampled at
  stride 2 into the first channels, zeros in the others), global average pooling to a
  64-d feature z_k, a cosine classifier s cos(z_k, w_c);
  the SimSiam heads on the concatenated features [z_1, z_2, z_3] (192-d): projection
  Linear 192-128 + BN + ReLU, Linear 128-128 + BN (h), prediction Linear 128-64 + BN + ReLU,
  Linear 64-128 with bias (u); the class centers of CBCL [K, C, 64].
Convolutions and batch-normalised linear layers have no bias (batch norm's shift is it), as
in Darknet with batch_normalize=1. Batch norm normalises all rows of the step together.

The step, P pairs, B = 4P rows (the layout of [mixdata], src/layers/mixdata_layer.h):
rows [0, P) instance, [P, 2P) second sampler, [2P, 3P) Mixup, [3P, 4P) CutMix of the pairs
(p, P + p), with two-hot labels. The loss, as src/layers compute it
(../shared/METHOD-NOTES.md fixes the equations):
  NOD ([expert_softmax]): per expert k with logits v,
      sum_b g_b * (-sum_c t_bc log softmax(v_b + a_b T(k, .))_c),
    T(k, c) LGLA's margins from the class counts (local experts: log p' with p' = p_c in the
    expert's class group, max p otherwise; global expert: tau log p_c), a_b = 1 + softmax
    over the rows of the energy -T log sum_c exp(v_bc / T) (AALA), g_b LGLA's angular
    weight on the ID rows (1 on mixed rows); a and g constants in backward;
  CBCL ([cbcl]): per expert, d+ = 1/2 mean over ID rows of w_b |z_b - c_{y_b}|^2 with the
    dual-entropy weight w (a constant), d- = mean over mixed rows of |z_i - z_r|^2 +
    |z_j - z_r|^2, L_k = (e^{g0 d+} - e^{g1 d-} + e0) / (e^{g0 d+} + e^{g1 d-} + e1);
  RCL ([rcl]): 1/P sum_p -cos(u_m, sg(h_c)) - cos(u_c, sg(h_m)).
  L = (sum_k NOD_k) / B + lambda_cbcl sum_k L_k + lambda_rcl L_RCL,
which is Darknet's (sum of the layers' costs) / B, and the gradient Darknet applies is dL/dparam.
The keys (tau, aala, reweight, energy_t, s, g0, g1, e0, e1, the lambdas) are the ones Darknet
parsed from the cfg; the class counts are the ones dn_bench gave it.

The check (first): the twin loads Darknet's parameters, mixes Darknet's source rows with
Darknet's lambdas and boxes (and compares the mixed batch and labels with [mixdata]'s), runs a
training-mode forward and backward pass and compares the margins, the features, logits and
heads, each loss term, the total loss and the gradient of every parameter tensor with
Darknet's. A tensor's error is max|g_twin - g_darknet| / max|g_darknet| (the denominator
floored at 1e-5 of the step's largest gradient: below that a gradient is rounding noise around
an exact 0, as the projection's batch-norm shift, which the prediction head's batch norm
cancels); the total loss's is its relative difference; all must be at most --tolerance
(default 1e-3). The --show worst tensors are printed. --check-dtype float64 runs the twin in
double precision (from the same fp32 values), so that what remains is Darknet's own rounding.

ReLU ties: where a ReLU's input is within rounding of 0 (at the initial weights about one
in two million of a step's ReLU inputs: 140 of 281 million at 512 rows), the two forward
passes may decide it differently; that value then passes its gradient on in one and not in
the other, which moved whole gradient tensors below it by up to 2% in a 16-row step (a
finite difference there lands halfway between the two: a kink, not an error of either). The
check therefore runs the twin's backward with Darknet's ReLU decisions (dn_bench writes them)
and requires its own to differ from them only at inputs within 1e-5 of their layer's largest
|x|; a wider disagreement is a forward mismatch and fails the check.

Timing (then, unless --check-only), from Darknet's initial parameters on its source rows:
  step:      zero_grad, draw the pairing (Beta(1, 1) lambdas, uniform box centres, as the
             cfg's [mixdata]), mix, forward, loss, backward, SGD step (lr 0.4, momentum 0.9,
             Nesterov, weight decay 5e-5 on the weights of convolutions, linear layers and
             cosine heads, as the cfg's [net]), --warmup untimed then --steps timed;
  inference: eval mode, no autograd, the full forward pass (Darknet's predict runs the
             heads too) and the softmax of the mean expert logits on all B rows,
             --infer batches (0: none).

The last stdout line is machine-readable:
  RESULT params=N batch=B step_ms=M infer_img_s=I loss=L check_loss_rel=E check_grad_rel=G
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resnet32_torch import timed_loop  # noqa: E402

NORM_FLOOR = 1e-12           # ricasso_kernels.h: norms are floored at this
FLT_MIN = 1.17549435e-38     # the floor of the probabilities whose log Darknet takes
PRIOR_EPS = 1e-9             # expert_softmax_layer.c: log(p + 1e-9), as LGLA
TIE = 1e-5                   # a ReLU input within this of its layer's largest |x| is a tie
ZERO_GRAD = 1e-5             # a gradient below this of the step's largest is an exact 0


def fail(msg):
    print(f"ricasso_torch: error: {msg}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------- the network

class _ReluWithMask(torch.autograd.Function):
    """max(x, 0) whose backward takes a given mask (Darknet's decisions) instead of x > 0."""

    @staticmethod
    def forward(ctx, x, mask):
        ctx.save_for_backward(mask)
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask, None


class Relus:
    """The ReLUs of the network, by Darknet layer index. Plain F.relu unless masks are set
    (the check): then each ReLU's backward uses Darknet's mask, and the places where the
    twin's own x > 0 disagrees with it are counted, with the largest |x| among them relative
    to the largest |x| of the layer (ties within rounding show as tiny values)."""

    def __init__(self):
        self.masks, self.disagree = None, {}

    def __call__(self, x, idx):
        if self.masks is None:
            return F.relu(x)
        m = self.masks[idx].view_as(x)
        d = (x.detach() > 0) != m
        if d.any():
            self.disagree[idx] = (int(d.sum()), (x.detach()[d].abs().max() / x.detach().abs().max()).item())
        return _ReluWithMask.apply(x, m.to(x.dtype))


class Block(nn.Module):
    """conv3x3-BN-ReLU, conv3x3-BN, + shortcut, ReLU. With a stride or a channel change the
    shortcut is option A (Darknet's [shortcut] between different shapes): the input sampled
    at the stride into the first channels, zeros in the others."""

    def __init__(self, cin, cout, stride, relu):
        super().__init__()
        self.cin, self.cout, self.stride, self.relu = cin, cout, stride, relu
        self.idx = (None, None)   # Darknet layer indices of the two ReLUs (darknet_layers)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout, momentum=0.01)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, momentum=0.01)

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)), self.idx[0])
        y = self.bn2(self.conv2(y))
        if self.stride != 1 or self.cin != self.cout:
            x = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, 0, self.cout - self.cin))
        return self.relu(y + x, self.idx[1])


def stage(cin, cout, stride, relu, blocks=5):
    return nn.Sequential(Block(cin, cout, stride, relu), *[Block(cout, cout, 1, relu) for _ in range(blocks - 1)])


class CosineHead(nn.Module):
    """s cos(x_b, w_c), norms floored at NORM_FLOOR ([cosine])."""

    def __init__(self, d, classes, scale):
        super().__init__()
        self.scale = scale
        self.weight = nn.Parameter(torch.empty(classes, d).uniform_(-1, 1))

    def forward(self, x):
        xn = x / x.norm(dim=1, keepdim=True).clamp_min(NORM_FLOOR)
        wn = self.weight / self.weight.norm(dim=1, keepdim=True).clamp_min(NORM_FLOOR)
        return self.scale * (xn @ wn.t())


class Expert(nn.Module):
    def __init__(self, classes, scale, relu):
        super().__init__()
        self.stage2 = stage(16, 32, 2, relu)
        self.stage3 = stage(32, 64, 2, relu)
        self.head = CosineHead(64, classes, scale)

    def features(self, x):
        return self.stage3(self.stage2(x)).mean((2, 3))


class RicassoNet(nn.Module):
    def __init__(self, classes=10, experts=3, scale=30.0, proj=128, pred_hidden=64):
        super().__init__()
        self.relu = Relus()
        self.conv = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16, momentum=0.01)
        self.stage1 = stage(16, 16, 1, self.relu)
        self.experts = nn.ModuleList([Expert(classes, scale, self.relu) for _ in range(experts)])
        d = 64 * experts
        # projection: Linear + BN + ReLU, Linear + BN (h); prediction: Linear + BN + ReLU,
        # Linear with bias (u)
        self.proj = nn.ModuleList([nn.Linear(d, proj, bias=False), nn.BatchNorm1d(proj, momentum=0.01),
                                   nn.Linear(proj, proj, bias=False), nn.BatchNorm1d(proj, momentum=0.01)])
        self.pred = nn.ModuleList([nn.Linear(proj, pred_hidden, bias=False),
                                   nn.BatchNorm1d(pred_hidden, momentum=0.01), nn.Linear(pred_hidden, proj)])
        self.centers = nn.Parameter(torch.zeros(experts, classes, 64))
        self.idx = {}   # Darknet layer indices of the stem's and the heads' ReLUs
        self.darknet_layers()

    def forward(self, x):
        """x [B, 3, 32, 32] -> features [K] of [B, 64], logits [K] of [B, C], h, u [B, 128]."""
        x = self.stage1(self.relu(self.bn(self.conv(x)), self.idx["stem"]))
        feats = [e.features(x) for e in self.experts]
        logits = [e.head(z) for e, z in zip(self.experts, feats)]
        p, q = self.proj, self.pred
        h = p[3](p[2](self.relu(p[1](p[0](torch.cat(feats, 1))), self.idx["proj"])))
        u = q[2](self.relu(q[1](q[0](h)), self.idx["pred"]))
        return feats, logits, h, u

    def darknet_layers(self):
        """The cfg's layers in order: (type, fields Darknet's layer table must show, tensors
        by Darknet's names). The twin's own statement of the wiring."""
        L = []

        def conv(c, bn, act, h):
            L.append(("convolutional",
                      dict(c=c.in_channels, n=c.out_channels, size=c.kernel_size[0],
                           stride=c.stride[0], pad=c.padding[0], bn=1, act=act, h=h, w=h,
                           out_h=h // c.stride[0], out_w=h // c.stride[0]),
                      dict(weights=c.weight, biases=bn.bias, scales=bn.weight,
                           rolling_mean=bn.running_mean, rolling_variance=bn.running_var)))

        def blocks(seq, h):
            for blk in seq:
                src = len(L) - 1
                conv(blk.conv1, blk.bn1, "relu", h)
                h //= blk.stride
                conv(blk.conv2, blk.bn2, "linear", h)
                L.append(("shortcut", {"from": src, "act": "relu", "c": blk.cin, "out_c": blk.cout,
                                       "out_h": h, "out_w": h}, {}))
                blk.idx = (len(L) - 3, len(L) - 1)
            return h

        def connected(lin, bn, act):
            f = dict(inputs=lin.in_features, outputs=lin.out_features, bn=int(bn is not None), act=act)
            t = dict(weights=lin.weight)
            if bn is not None:
                t.update(biases=bn.bias, scales=bn.weight, rolling_mean=bn.running_mean,
                         rolling_variance=bn.running_var)
            else:
                t.update(biases=lin.bias)
            L.append(("connected", f, t))

        L.append(("mixdata", {}, {}))
        conv(self.conv, self.bn, "relu", 32)
        self.idx["stem"] = len(L) - 1
        blocks(self.stage1, 32)
        shared = len(L) - 1
        feat, logit = [], []
        for e in self.experts:
            L.append(("route", {"layers": [shared]}, {}))
            h = blocks(e.stage3, blocks(e.stage2, 32))
            L.append(("avgpool", {"c": 64, "h": h, "w": h}, {}))
            feat.append(len(L) - 1)
            L.append(("cosine", {"inputs": 64, "classes": e.head.weight.shape[0], "scale": e.head.scale},
                      {"weights": e.head.weight}))
            logit.append(len(L) - 1)
        L.append(("route", {"layers": feat}, {}))
        connected(self.proj[0], self.proj[1], "relu")
        self.idx["proj"] = len(L) - 1
        connected(self.proj[2], self.proj[3], "linear")
        h_layer = len(L) - 1
        connected(self.pred[0], self.pred[1], "relu")
        self.idx["pred"] = len(L) - 1
        connected(self.pred[2], None, "linear")
        L.append(("rcl", {"projection": h_layer, "prediction": len(L) - 1}, {}))
        L.append(("cbcl", {"features": feat, "logits": logit}, {"centers": self.centers}))
        L.append(("expert_softmax", {"experts": logit}, {}))
        return L


# ---------------------------------------------------------------- the batch

def mix_batch(x, t, P, lam_mix, lam_cut, boxes):
    """[mixdata]: rows [0, 2P) of x [B, Ch, H, W] and t [B, C] are the sources; returns the
    4P rows instance, second, Mixup (lam x_i + (1-lam) x_j), CutMix (x_j inside the box
    x0, y0, x1, y1, half-open, x_i outside) and their labels (CutMix: the box-clipped lam)."""
    xi, xj, ti, tj = x[:P], x[P:2 * P], t[:P], t[P:2 * P]
    lm = lam_mix.view(P, 1, 1, 1)
    H, W = x.shape[2], x.shape[3]
    ys = torch.arange(H).view(1, H, 1)
    xs = torch.arange(W).view(1, 1, W)
    b = boxes.view(P, 4, 1, 1)
    inbox = (xs >= b[:, 0]) & (xs < b[:, 2]) & (ys >= b[:, 1]) & (ys < b[:, 3])   # [P, H, W]
    xc = torch.where(inbox.unsqueeze(1), xj, xi)
    tm = lam_mix.view(P, 1) * ti + (1 - lam_mix.view(P, 1)) * tj
    tc = lam_cut.view(P, 1) * ti + (1 - lam_cut.view(P, 1)) * tj
    return torch.cat([xi, xj, lm * xi + (1 - lm) * xj, xc]), torch.cat([ti, tj, tm, tc])


def draw_pairing(P, H, W, dtype):
    """A fresh pairing as [mixdata] draws one (alpha = cutmix_alpha = 1): Mixup lambda ~
    Beta(1, 1); CutMix area ~ Beta(1, 1), box centre uniform, box clipped (cutmix_box_clip)."""
    beta = torch.distributions.Beta(torch.tensor(1.0), torch.tensor(1.0))
    lam_mix = beta.sample((P,)).to(dtype)
    r = torch.sqrt(1 - beta.sample((P,)))
    cw, ch = (W * r).long(), (H * r).long()
    cx, cy = torch.randint(0, W, (P,)), torch.randint(0, H, (P,))
    x0, y0 = (cx - cw // 2).clamp(min=0), (cy - ch // 2).clamp(min=0)
    x1, y1 = (cx - cw // 2 + cw).clamp(max=W), (cy - ch // 2 + ch).clamp(max=H)
    x1, y1 = torch.maximum(x1, x0), torch.maximum(y1, y0)
    lam_cut = (1 - ((x1 - x0) * (y1 - y0)).to(dtype) / (W * H))
    return lam_mix, lam_cut, torch.stack([x0, y0, x1, y1], 1)


# ---------------------------------------------------------------- the loss

def lgla_groups(counts, want):
    """lgla_group_ranges: count ranges (lo, hi], head-most first; None when the walk does
    not give `want` ranges."""
    per, run, cuts = sum(counts) // want, 0, []
    for n in sorted(counts):
        run += n
        if run > per:
            cuts.append(n)
            run = 0
    if len(cuts) + 1 != want:
        return None
    maxc = max(counts)
    lo = [cuts[-1 - i] for i in range(len(cuts))] + [0]
    hi = [maxc if i == 0 else cuts[len(cuts) - i] for i in range(len(cuts))] + [cuts[0] if cuts else maxc]
    return list(zip(lo, hi))


class RicassoLoss:
    def __init__(self, counts, K, keys):
        self.K, self.C = K, len(counts)
        self.__dict__.update(keys)
        if K >= 3:
            ranges = lgla_groups(counts, K - 1)
            if ranges is None:
                fail(f"LGLA's grouping of the counts {counts} does not give {K - 1} groups")
        else:
            ranges = [(0, max(counts))]
        self.groups = len(ranges)
        self.class_group = [-1] * self.C
        for c, n in enumerate(counts):
            for g, (lo, hi) in enumerate(ranges):
                if lo < n <= hi:
                    self.class_group[c] = g
        # expert_margins, in float32 as Darknet keeps them
        total = float(sum(counts))
        prior = np.array([np.float32(n / total) for n in counts], np.float32)
        pmax = prior.max()
        m = np.zeros((K, self.C), np.float32)
        for k in range(K):
            for c in range(self.C):
                if k == K - 1:
                    m[k, c] = np.float32(self.tau) * np.log(np.float32(float(prior[c]) + PRIOR_EPS))
                else:
                    p = prior[c] if self.class_group[c] == k else pmax
                    m[k, c] = np.log(np.float32(float(p) + PRIOR_EPS))
        self.margin_np = m
        self.margin = torch.from_numpy(m)
        self.class_group_t = torch.tensor(self.class_group)

    def to(self, dtype):
        self.margin = torch.from_numpy(self.margin_np).to(dtype)
        return self

    def angular_weight(self, v, row_class):
        """g of eq. 7 (angular_weight_forward) on detached logits v [B, C]."""
        B = v.shape[0]
        g = torch.ones(B, dtype=v.dtype)
        grp = torch.full((B,), -1, dtype=torch.long)
        idr = row_class >= 0
        grp[idr] = self.class_group_t[row_class[idr]]
        rows = (grp >= 0).nonzero().flatten()
        theta = torch.acos((v[rows, row_class[rows]] / self.scale).clamp(-1, 1))
        for k in range(self.groups):
            sel = grp[rows] == k
            if sel.any():
                d = theta[sel] - theta[sel].mean()
                g[rows[sel]] = torch.where(d < 0, torch.ones_like(d), 1 + d)
        return g

    def __call__(self, feats, logits, h, u, centers, t, row_class, P):
        """Total loss and its terms as Darknet's layers report them (costs: sums over rows)."""
        B, K = t.shape[0], self.K
        nod, cbcl = [], []
        idr = (row_class >= 0).nonzero().flatten()
        y = row_class[idr]
        n_id, n_mix = len(idr), 2 * P
        for k in range(K):
            v, z = logits[k], feats[k]
            vd = v.detach()
            if self.aala:
                E = -self.energy_t * torch.logsumexp(vd / self.energy_t, 1)
                a = 1 + torch.softmax(E, 0)
            else:
                a = torch.ones(B, dtype=v.dtype)
            g = self.angular_weight(vd, row_class) if self.reweight else torch.ones(B, dtype=v.dtype)
            logq = F.log_softmax(v + a.unsqueeze(1) * self.margin[k].unsqueeze(0), 1)
            nod.append(-(g * (t * logq).sum(1)).sum())
            # CBCL: DEC pull with the dual-entropy weight (constant), VBL push, the ratio
            q = torch.softmax(vd[idr], 1)
            w = -((q + F.one_hot(y, self.C).to(q.dtype)) * torch.log(q.clamp_min(FLT_MIN))).sum(1)
            dplus = 0.5 * (w * ((z[idr] - centers[k][y]) ** 2).sum(1)).sum() / n_id
            zi, zj, dm = z[:P], z[P:2 * P], 0
            for r0 in (2 * P, 3 * P):
                zr = z[r0:r0 + P]
                dm = dm + ((zi - zr) ** 2).sum() + ((zj - zr) ** 2).sum()
            A, Bm = self.g0 * dplus, self.g1 * (dm / n_mix)
            mx = torch.maximum(A, Bm).detach()
            ea, eb, es = torch.exp(A - mx), torch.exp(Bm - mx), torch.exp(-mx)
            cbcl.append((ea - eb + self.e0 * es) / (ea + eb + self.e1 * es))
        m0, c0 = 2 * P, 3 * P
        um, uc = u[m0:m0 + P], u[c0:c0 + P]
        hm, hc = h[m0:m0 + P].detach(), h[c0:c0 + P].detach()
        rcl = -(cosine(um, hc) + cosine(uc, hm)).sum() / P
        nod_sum, cbcl_sum = sum(nod), sum(cbcl)
        total = nod_sum / B + self.lambda_cbcl * cbcl_sum + self.lambda_rcl * rcl
        costs = {"expert_softmax": nod_sum.item(), "cbcl": B * self.lambda_cbcl * cbcl_sum.item(),
                 "rcl": B * self.lambda_rcl * rcl.item()}
        return total, costs


def cosine(a, b):
    """Row-wise cos(a, b), norms floored as cosine_similarity in ricasso_kernels.c."""
    return (a * b).sum(1) / (a.norm(dim=1).clamp_min(NORM_FLOOR) * b.norm(dim=1).clamp_min(NORM_FLOOR))


# ---------------------------------------------------------------- Darknet's files

def read_tensors(d, name):
    """NAME.f32 with its index NAME.txt -> {(layer, kind): float32 array}."""
    data = np.fromfile(os.path.join(d, name + ".f32"), "<f4")
    out = {}
    with open(os.path.join(d, name + ".txt")) as f:
        for line in f:
            layer, kind, n, off = line.split()
            n, off = int(n), int(off)
            if off + n > data.size:
                fail(f"{d}/{name}.f32 is shorter than its index says")
            out[(int(layer), kind)] = data[off:off + n]
    return out


def read_masks(d):
    """masks.bin with masks.txt -> {layer: bool tensor}: where Darknet's ReLU outputs are > 0."""
    data = np.fromfile(os.path.join(d, "masks.bin"), np.uint8)
    out = {}
    with open(os.path.join(d, "masks.txt")) as f:
        for line in f:
            layer, _, n, off = line.split()
            n, off = int(n), int(off)
            if off + (n + 7) // 8 > data.size:
                fail(f"{d}/masks.bin is shorter than its index says")
            bits = np.unpackbits(data[off:off + (n + 7) // 8], bitorder="little")[:n]
            out[int(layer)] = torch.from_numpy(bits.astype(bool))
    return out


def read_layers(d):
    """layers.txt -> [(type, {key: value})], values as int, float or int lists."""
    def value(s):
        if "," in s or s.lstrip("-").isdigit():
            return [int(x) for x in s.split(",")] if "," in s else int(s)
        try:
            return float(s)
        except ValueError:
            return s
    layers = []
    with open(os.path.join(d, "layers.txt")) as f:
        for i, line in enumerate(f):
            w = line.split()
            if int(w[0]) != i:
                fail(f"{d}/layers.txt: line {i + 1} is not layer {i}")
            layers.append((w[1], {k: value(v) for k, v in (kv.split("=", 1) for kv in w[2:])}))
    return layers


def read_step(d):
    st = {"cost": {}, "pairs": []}
    with open(os.path.join(d, "step.txt")) as f:
        for line in f:
            w = line.split()
            if w[0] == "batch":
                st["batch"] = int(w[1])
            elif w[0] == "cost":
                st["cost"][int(w[1])] = float(w[2])
            elif w[0] == "pairs":
                st["P"], st["active"] = int(w[1]), int(w[3])
            elif w[0] == "pair":
                st["pairs"].append([float(w[2]), float(w[3])] + [int(x) for x in w[4:8]])
            elif w[0] == "counts":
                st["counts"] = [int(x) for x in w[1:]]
            elif w[0] == "class_group":
                st["class_group"] = [int(x) for x in w[1:]]
            elif w[0] == "margin":
                st.setdefault("margin", []).append([float(x) for x in w[2:]])
    return st


def check_wiring(model, dn):
    """The twin's layer list against Darknet's layer table: type and every field the twin
    states, layer by layer. Returns the twin's list."""
    mine = model.darknet_layers()
    if len(mine) != len(dn):
        fail(f"Darknet's cfg has {len(dn)} layers, the twin {len(mine)}")
    for i, ((t, f, _), (dt, df)) in enumerate(zip(mine, dn)):
        if t != dt:
            fail(f"layer {i}: Darknet has [{dt}], the twin [{t}]")
        for k, v in f.items():
            if k not in df:
                fail(f"layer {i} [{t}]: Darknet's table has no {k}")
            if df[k] != v and not (isinstance(v, list) and df[k] == v[0] and len(v) == 1):
                fail(f"layer {i} [{t}]: {k} is {df[k]} in Darknet's cfg, {v} in the twin")
    return mine


def keys_from(dn):
    """The loss keys Darknet parsed ([rcl], [cbcl], [expert_softmax])."""
    by = {t: f for t, f in dn}
    es, cb, rc, mx = by["expert_softmax"], by["cbcl"], by["rcl"], by["mixdata"]
    if (mx["mixup_row0"], mx["cutmix_row0"]) != (2 * mx["pairs"], 3 * mx["pairs"]) or mx["rows"] != 4 * mx["pairs"]:
        fail("the twin needs [mixdata] with mixup=1 and cutmix=1 (rows: instance, second, Mixup, CutMix)")
    return dict(tau=es["tau"], aala=es["aala"], reweight=es["reweight"], energy_t=es["energy_t"],
                scale=es["scale"], g0=cb["g0"], g1=cb["g1"], e0=cb["e0"], e1=cb["e1"],
                lambda_cbcl=cb["lambda"], lambda_rcl=rc["lambda"])


def rel(a, b):
    """max|a - b| / max|b| (max|a - b| when b is all zeros)."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.size != b.size:
        fail(f"comparing {a.size} values with Darknet's {b.size}")
    scale = np.abs(b).max()
    d = np.abs(a - b).max()
    return d / scale if scale > 0 else d


def load_into(params, mine):
    with torch.no_grad():
        for i, (t, _, named) in enumerate(mine):
            for kind, p in named.items():
                v = params.get((i, kind))
                if v is None:
                    fail(f"layer {i} [{t}]: Darknet's dump has no {kind}")
                if v.size != p.numel():
                    fail(f"layer {i} [{t}] {kind}: {v.size} values in Darknet's dump, {p.numel()} in the twin")
                p.copy_(torch.from_numpy(v.copy()).view_as(p))
    left = set(params) - {(i, k) for i, (_, _, n) in enumerate(mine) for k in n}
    if left:
        fail(f"Darknet's dump has parameters the twin lacks: {sorted(left)[:5]}")


def check(model, d, dtype, tol, show=5):
    """Loads Darknet's parameters and batch into the twin, compares one step; returns the
    source rows, their labels, the loss and the errors."""
    dn = read_layers(d)
    mine = check_wiring(model, dn)
    st = read_step(d)
    B, P, K = st["batch"], st["P"], len(model.experts)
    keys = keys_from(dn)
    params, grads = read_tensors(d, "params"), read_tensors(d, "grads")
    batch, outs = read_tensors(d, "batch"), read_tensors(d, "outputs")
    load_into(params, mine)
    crit = RicassoLoss(st["counts"], K, keys)
    n_dn = sum(v.size for (i, k), v in params.items() if not k.startswith("rolling"))
    n_pt = sum(p.numel() for p in model.parameters())
    if n_dn != n_pt:
        fail(f"parameter counts differ: Darknet {n_dn}, twin {n_pt}")
    print(f"ricasso_torch: wiring: {len(dn)} layers as in Darknet's table; {n_pt} parameters in "
          f"{len(grads)} tensors, as Darknet's; loss keys {keys}")
    if crit.class_group != st["class_group"]:
        fail(f"class groups: Darknet {st['class_group']}, twin {crit.class_group}")
    e_margin = rel(crit.margin_np, st["margin"])
    if not st["active"] or len(st["pairs"]) != P:
        fail("Darknet's [mixdata] did not mix the dumped step")

    C, mx = len(st["counts"]), dn[0][1]
    x = torch.from_numpy(batch[(0, "input")].copy()).view(B, mx["c"], mx["h"], mx["w"])
    t = torch.from_numpy(batch[(0, "truth")].copy()).view(B, C)
    pr = torch.tensor(st["pairs"], dtype=torch.float64)
    lam_mix, lam_cut = pr[:, 0].float(), pr[:, 1].float()
    boxes = pr[:, 2:].long()
    xm, tm = mix_batch(x, t, P, lam_mix, lam_cut, boxes)
    e_mix = max(rel(xm.numpy(), outs[(0, "output")]), rel(tm.numpy(), outs[(0, "truth")]))
    row_class = torch.full((B,), -1, dtype=torch.long)
    src = t[:2 * P]
    onehot = ((src == 0) | (src == 1)).all(1) & ((src == 1).sum(1) == 1)
    row_class[:2 * P][onehot] = src.argmax(1)[onehot]

    # Darknet's ReLU decisions for the backward pass (see write_relu_masks in dn_bench.c).
    masks = read_masks(d)
    relus = {i for i, (t_, f, _) in enumerate(mine) if f.get("act") == "relu"}
    if set(masks) != relus:
        fail(f"Darknet's ReLU layers {sorted(set(masks) ^ relus)[:5]}... are not the twin's")
    model.relu.masks, model.relu.disagree = masks, {}

    model.to(dtype)
    crit.to(dtype)
    model.train()
    model.zero_grad(set_to_none=True)
    feats, logits, h, u = model(xm.to(dtype))
    total, costs = crit(feats, logits, h, u, model.centers, tm.to(dtype), row_class, P)
    total.backward()
    model.relu.masks = None
    n_relu = sum(int(m.numel()) for m in masks.values())
    ties = sum(n for n, _ in model.relu.disagree.values())
    tie_worst = max([r for _, r in model.relu.disagree.values()], default=0.0)

    by = {t_: i for i, (t_, _) in enumerate(dn)}
    es, cb, rc = dn[by["expert_softmax"]][1], dn[by["cbcl"]][1], dn[by["rcl"]][1]
    e_out = {}
    for k in range(K):
        e_out[f"features of expert {k + 1} (layer {cb['features'][k]})"] = rel(feats[k].detach().numpy(), outs[(cb["features"][k], "output")])
        e_out[f"logits of expert {k + 1} (layer {es['experts'][k]})"] = rel(logits[k].detach().numpy(), outs[(es["experts"][k], "output")])
    e_out[f"projection h (layer {rc['projection']})"] = rel(h.detach().numpy(), outs[(rc["projection"], "output")])
    e_out[f"prediction u (layer {rc['prediction']})"] = rel(u.detach().numpy(), outs[(rc["prediction"], "output")])
    dn_cost = {t_: st["cost"][by[t_]] for t_ in ("expert_softmax", "cbcl", "rcl")}
    if set(st["cost"]) != {by[t_] for t_ in dn_cost}:
        fail(f"Darknet's costs come from layers {sorted(st['cost'])}, the twin's from {sorted(by[t_] for t_ in dn_cost)}")
    dn_loss = sum(dn_cost.values()) / B
    e_loss = abs(total.item() - dn_loss) / abs(dn_loss)

    # Per tensor: max|diff| over its largest Darknet gradient, floored at ZERO_GRAD of the
    # step's largest: below that a gradient is rounding noise around an exact 0 (the
    # projection's batch-norm shift, which the prediction head's batch norm cancels).
    errs, gmax = [], max(np.abs(v).max() for v in grads.values())
    for i, (t_, _, named) in enumerate(mine):
        for kind, p in named.items():
            if kind.startswith("rolling"):
                continue
            g = grads[(i, kind)].astype(np.float64)
            mg = p.grad
            if mg is None:
                fail(f"layer {i} [{t_}] {kind}: the twin's loss gives it no gradient")
            mg = mg.detach().double().numpy().ravel()
            scale = max(np.abs(g).max(), ZERO_GRAD * gmax)
            errs.append((np.abs(mg - g).max() / scale, f"layer {i} [{t_}] {kind}", np.abs(g).max()))
    errs.sort(reverse=True)

    print(f"ricasso_torch: check against Darknet ({dtype_name(dtype)} twin, {B} rows, {P} pairs, "
          f"tolerance {tol:g}):")
    print(f"   mixed batch and labels: {e_mix:.2e}; margins: {e_margin:.2e}; class groups equal")
    print(f"   ReLU decisions: {ties} of {n_relu} differ from Darknet's, all at |x| <= {tie_worst:.1e} of "
          f"their layer's largest (ties within rounding, limit {TIE:g}); the backward takes Darknet's")
    for name, e in e_out.items():
        print(f"   {name}: {e:.2e}")
    for name in dn_cost:
        c = costs[name]
        print(f"   cost of [{name}]: twin {c:.7g}, Darknet {dn_cost[name]:.7g} "
              f"(relative difference {abs(c - dn_cost[name]) / max(abs(dn_cost[name]), 1e-30):.2e})")
    print(f"   total loss: twin {total.item():.7g}, Darknet {dn_loss:.7g} (relative difference {e_loss:.2e})")
    print(f"   gradients, max|g_twin - g_darknet| / max|g_darknet| per tensor, worst of {len(errs)}:")
    for e, name, scale in errs[:show]:
        print(f"     {e:.2e}  {name} (max|g| {scale:.3g})")
    worst = errs[0][0]
    bad = [n for e, n, _ in errs if not e <= tol]
    if tie_worst > TIE:
        bad_relu = max(model.relu.disagree, key=lambda i: model.relu.disagree[i][1])
        fail(f"the ReLU of layer {bad_relu} decides {model.relu.disagree[bad_relu][0]} values otherwise than "
             f"Darknet's, some at |x| = {tie_worst:.1e} of the layer's largest: not a tie within rounding")
    if not (e_loss <= tol and e_mix <= tol and e_margin <= tol and max(e_out.values()) <= tol) or bad:
        what = f"{len(bad)} gradient tensors over it (worst: {errs[0][1]})" if bad else "the loss or an output over it"
        fail(f"the twin does not compute what the Darknet cfg computes: {what}")
    print(f"ricasso_torch: check passed: loss {e_loss:.2e}, worst gradient {worst:.2e} ({errs[0][1]})")
    return x, t, row_class, crit, P, dn_loss, e_loss, worst


def dtype_name(dtype):
    return {torch.float32: "float32", torch.float64: "float64"}[dtype]


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--from", dest="src", metavar="DIR", required=True)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--infer", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--tolerance", type=float, default=1e-3)
    ap.add_argument("--check-dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--check-only", action="store_true")
    ap.add_argument("--show", type=int, default=5, help="how many of the worst gradient tensors to print")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.steps < 1 or a.threads < 1 or a.warmup < 0 or a.infer < 0:
        fail("--steps and --threads must be >= 1, --warmup and --infer >= 0")
    if not a.tolerance > 0:
        fail("--tolerance must be > 0")
    if not os.path.isfile(os.path.join(a.src, "layers.txt")):
        fail(f"{a.src} does not hold dn_bench --twin-dump files")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    # The sizes the cfg gives (classes, experts, the cosine scale); the wiring is checked next.
    dn = read_layers(a.src)
    heads = [f for t, f in dn if t == "cosine"]
    if not heads:
        fail(f"{a.src}/layers.txt has no [cosine] layer")
    model = RicassoNet(classes=heads[0]["classes"], experts=len(heads), scale=float(heads[0]["scale"]))
    print(f"ricasso_torch: torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{sum(p.numel() for p in model.parameters())} parameters, batch {read_step(a.src)['batch']}")
    dtype = torch.float64 if a.check_dtype == "float64" else torch.float32
    x, t, row_class, crit, P, dn_loss, e_loss, e_grad = check(model, a.src, dtype, a.tolerance, a.show)
    if a.check_only:
        return
    # The timed runs start again from Darknet's parameters, in float32.
    model.float()
    crit.to(torch.float32)
    mine = model.darknet_layers()
    load_into(read_tensors(a.src, "params"), mine)
    B = x.shape[0]
    xs, ts = x[:2 * P].contiguous(), t[:2 * P].contiguous()
    decay = [p for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear, CosineHead))
             for p in [m.weight]]
    ids = {id(p) for p in decay}
    other = [p for p in model.parameters() if id(p) not in ids]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-5}, {"params": other, "weight_decay": 0.0}],
                          lr=0.4, momentum=0.9, nesterov=True)

    def train_step():
        opt.zero_grad(set_to_none=True)
        lam_mix, lam_cut, boxes = draw_pairing(P, x.shape[2], x.shape[3], torch.float32)
        xb, tb = mix_batch(xs, ts, P, lam_mix, lam_cut, boxes)
        feats, logits, h, u = model(xb)
        loss, _ = crit(feats, logits, h, u, model.centers, tb, row_class, P)
        loss.backward()
        opt.step()
        return loss.item()

    model.train()
    step_s, step_cpu, loss = timed_loop(train_step, a.warmup, a.steps)
    if not np.isfinite(loss):
        fail("training loss is not finite")
    print(f"ricasso_torch: {a.steps} training steps in {step_s:.3f} s, {1e3 * step_s / a.steps:.1f} ms "
          f"per step, {step_cpu / step_s:.2f} cores busy (loss {loss:.4f})")
    infer = 0.0
    if a.infer:
        model.eval()
        with torch.no_grad():
            def predict():
                _, logits, _, _ = model(x)
                return torch.softmax(sum(logits) / len(logits), 1)
            infer_s, infer_cpu, out = timed_loop(predict, a.warmup, a.infer)
        if not torch.isfinite(out).all():
            fail("inference output is not finite")
        infer = a.infer * B / infer_s
        print(f"ricasso_torch: inference: {a.infer} batches in {infer_s:.3f} s, {infer:.1f} images/s, "
              f"{infer_cpu / infer_s:.2f} cores busy")
    print(f"RESULT params={sum(p.numel() for p in model.parameters())} batch={B} "
          f"step_ms={1e3 * step_s / a.steps:.2f} infer_img_s={infer:.2f} loss={loss:.5f} "
          f"check_loss_rel={e_loss:.3g} check_grad_rel={e_grad:.3g}")


if __name__ == "__main__":
    main()
