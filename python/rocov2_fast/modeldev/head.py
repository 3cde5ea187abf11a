"""Stage 3 of the default models: a new head on frozen features (`python -m rocov2_fast.modeldev.head`).

Fine-tuning the whole MobileNetV3-Small on this machine's CPU runs at a few images per second, so the
stage-2 models (fine-tuned for 4 epochs on the real mix) are kept as frozen feature extractors and a
logistic head is trained on:

- pooled (mean and max) activations of four stages of the network (16×16 … 4×4 maps), the 1024-d
  hidden layer of its classifier and its own logit;
- layout features computed from the pixels in the graph: uniform rows / columns (gutters), long
  straight edges (panel borders), per half of the image (mosaics), intensity and colour statistics.

Training is one forward pass per image (the features are cached), so the head sees the whole mix:
real images (train split of source images, augmented), renders, compound figures and the synthetic
corpus of stage 1. The threshold is chosen on the val split; the fixed test split is only measured.
Export: one ONNX graph (`pixels` uint8 NHWC → `prob` float32 N), preprocessing, features, head.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from . import train as tr
from . import dataset, real

TAPS = (3, 8, 11, 12)
SIZE = 128
DATA_VERSION = "r4"  # the mix's version in cache file names (r4: the fourth round's real sources)
SECOND_ROUND_TEXT = ("; second round: dipy and nilearn MR volumes, the nibabel MR DICOM, pydicom files that need the "
                     "pylibjpeg codecs, PyWavelets and scikit-learn photos, sunpy solar images, astropy's M13; third "
                     "round: deid-data radiograph, ultrasound and echocardiogram DICOMs and photos, mahotas photos and micrograph; fourth "
                     "round: CT volumes of TotalSegmentator's and pyradiomics' source distributions (abdomen, chest, brain "
                     "template; soft-tissue, lung and brain windows), StarDist's micrographs")


def handcrafted(x, g):
    """Layout and colour features of N×3×H×W pixels `x` in [0, 1] and their grey `g` (N×H×W)."""
    import torch

    def frac(mask, dims):
        return mask.float().mean(dims)

    def std(t, dim):
        m = t.mean(dim, keepdim=True)
        return ((t - m) ** 2).mean(dim).clamp_min(1e-8).sqrt()

    h = g.shape[1]
    mh = h // 16
    out = [g.mean((1, 2)), std(g.flatten(1), 1), frac(g < 0.1, (1, 2)), frac(g > 0.9, (1, 2)),
           frac((g > 0.3) & (g < 0.7), (1, 2))]
    sat = x.amax(1) - x.amin(1)
    out += [sat.mean((1, 2)), frac(sat > 0.15, (1, 2))]
    dx = (g[:, :, 1:] - g[:, :, :-1]).abs()
    dy = (g[:, 1:, :] - g[:, :-1, :]).abs()
    out += [dx.mean((1, 2)), dy.mean((1, 2)), frac(dx > 0.1, (1, 2))]
    for axis_rows in (True, False):
        t = g if axis_rows else g.transpose(1, 2)  # rows of t: rows (or columns) of the image
        d = dy if axis_rows else dx.transpose(1, 2)
        n = t.shape[2]
        for part in (t, t[:, :, : n // 2], t[:, :, n // 2:]):  # whole lines and each half (mosaics)
            s = std(part, 2)[:, mh:-mh]  # inner lines only: the figure's own margins are not gutters
            mean = part.mean(2)[:, mh:-mh]
            u = (s < 0.03).float()
            out += [u.mean(1), (u[:, 1:] - u[:, :-1]).abs().sum(1) / 10.0,
                    (u * (mean > 0.8).float()).mean(1), (u * (mean < 0.2).float()).mean(1), s.amin(1)]
        strength = frac(d > 0.08, 2)[:, mh:-mh]  # share of each line crossed by a strong edge
        out += [strength.amax(1), frac(strength > 0.5, 1), frac(strength > 0.8, 1)]
        for k in (3,):  # thirds of the lines: gutters of 3-column grids
            for i in range(k):
                part = t[:, :, i * n // k:(i + 1) * n // k]
                s = std(part, 2)[:, mh:-mh]
                out += [(s < 0.03).float().mean(1), (s < 0.01).float().mean(1)]
        # repetition: panels of one kind side by side look alike (CT series, chart grids)
        for k in (2, 3, 4):
            step = n // k
            pieces = [t[:, :, i * step:(i + 1) * step] for i in range(k)]
            out.append(torch.stack([_corr(pieces[i], pieces[i + 1]) for i in range(k - 1)], 1).mean(1))
            prof = [p.mean(1) for p in pieces]  # profile across each piece
            out.append(torch.stack([_corr(prof[i], prof[i + 1]) for i in range(k - 1)], 1).mean(1))
    return torch.stack(out, 1)


def profiles(x):
    """Line profiles of N×3×H×W pixels in [0, 1] for the 1-D layout network: per axis, the mean and
    standard deviation of each line (whole, first half, second half) and the share of each line crossed
    by a strong edge: N×14×H (the input is square)."""
    import torch

    g = x.mean(1)
    ch = []
    for t in (g, g.transpose(1, 2)):
        n = t.shape[2]
        for part in (t, t[:, :, : n // 2], t[:, :, n // 2:]):
            m = part.mean(2)
            ch += [m, ((part - m.unsqueeze(2)) ** 2).mean(2).clamp_min(1e-8).sqrt()]
        d = (t[:, 1:, :] - t[:, :-1, :]).abs()
        ch.append(torch.nn.functional.pad((d > 0.08).float().mean(2), (0, 1)))
    return torch.stack(ch, 1)


def profile_net():
    """A small 1-D CNN over the line profiles: learns what gutters and panel borders look like at 128 px."""
    from torch import nn

    return nn.Sequential(nn.Conv1d(14, 32, 5, padding=2), nn.ReLU(), nn.Conv1d(32, 32, 5, padding=2), nn.ReLU(),
                         nn.AdaptiveMaxPool1d(1), nn.Flatten(), nn.Linear(32, 1))


def _corr(a, b):
    """Pearson correlation of two equally shaped batches, per sample."""
    a, b = a.flatten(1), b.flatten(1)
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    return (a * b).mean(1) / ((a * a).mean(1) * (b * b).mean(1) + 1e-6).sqrt()


def _classes():
    import torch
    from torch import nn

    class Features(nn.Module):
        """Frozen backbone + layout features: uint8 NHWC pixels → one feature vector per image."""

        def __init__(self, net, mean, std):
            super().__init__()
            self.net = net
            self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

        def forward(self, pixels):
            x = pixels.permute(0, 3, 1, 2).float() / 255.0
            hand = handcrafted(x, x.mean(1))
            h = (x - self.mean) / self.std
            outs = []
            for i, layer in enumerate(self.net.features):
                h = layer(h)
                if i in TAPS:
                    outs += [h.mean((2, 3)), h.amax((2, 3))]
            hidden = self.net.classifier[1](self.net.classifier[0](h.mean((2, 3))))
            logit = self.net.classifier[3](hidden)
            return torch.cat(outs + [hidden, logit, hand], 1)

    class Headed(nn.Module):
        """Features → standardised → linear head → probability (what the ONNX file holds)."""

        def __init__(self, features, mu, sd, weight, bias, layout=None):
            super().__init__()
            self.features = features
            self.register_buffer("mu", torch.from_numpy(mu.astype(np.float32)))
            self.register_buffer("sd", torch.from_numpy(sd.astype(np.float32)))
            if isinstance(weight, nn.Module):  # a small MLP head (fit_mlp): `weight` is the network, `bias` unused
                self.head = weight
            else:
                self.head = nn.Linear(len(mu), 1)
                with torch.no_grad():
                    self.head.weight.copy_(torch.from_numpy(weight.astype(np.float32)).view(1, -1))
                    self.head.bias.fill_(float(bias))
            self.layout = None
            if layout is not None:  # (net, profile mean, profile std): the 1-D layout network's logit is added
                self.layout = layout[0]
                self.register_buffer("pm", layout[1])
                self.register_buffer("ps", layout[2])

        def forward(self, pixels):
            f = (self.features(pixels) - self.mu) / self.sd
            z = self.head(f).squeeze(1)
            if self.layout is not None:
                x = pixels.permute(0, 3, 1, 2).float() / 255.0
                z = z + self.layout((profiles(x) - self.pm) / self.ps).squeeze(1)
            return torch.sigmoid(z)

    return Features, Headed


def feature_model(onnx_path: Path | None = None, deployable=None):
    """The Features module of a stage-2 ONNX model (or of a fine-tuned `Deployable`)."""
    Features, _ = _classes()
    d = deployable if deployable is not None else tr.from_onnx(onnx_path)
    m = Features(d.net, d.mean.view(-1).tolist(), d.std.view(-1).tolist())
    m.eval()
    return m


def extract(model, pixels: np.ndarray, batch: int = 64, log=None) -> np.ndarray:
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(pixels), batch):
            out.append(model(torch.from_numpy(pixels[i:i + batch])).numpy())
            if log and (i // batch) % 10 == 0:
                log(f"features {i + len(out[-1])}/{len(pixels)}")
    return np.concatenate(out) if out else np.zeros((0, 1), np.float32)


def fit_head(f: np.ndarray, y: np.ndarray, w: np.ndarray, *, l2: float, seed: int = 0, steps: int = 300):
    """Weighted, class-balanced logistic regression on standardised features (full-batch L-BFGS)."""
    import torch

    torch.manual_seed(seed)
    mu, sd = f.mean(0), f.std(0) + 1e-4
    x = torch.from_numpy(((f - mu) / sd).astype(np.float32))
    t = torch.from_numpy(y.astype(np.float32))
    sw = w.astype(np.float64).copy()
    for c in (0, 1):  # each class carries half the weight
        sw[y == c] *= 0.5 / sw[y == c].sum()
    sw = torch.from_numpy(sw.astype(np.float32))
    weight = torch.zeros(x.shape[1], requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias], lr=1, max_iter=steps, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        z = x @ weight + bias
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(z, t, reduction="none") * sw).sum()
        loss = loss + l2 * (weight ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return mu, sd, weight.detach().numpy().copy(), float(bias.detach())


def fit_mlp(f: np.ndarray, y: np.ndarray, w: np.ndarray, *, hidden: int = 32, weight_decay: float = 0.01,
            epochs: int = 60, dropout: float = 0.2, seed: int = 0):
    """A one-hidden-layer MLP head on the standardised features (dropout on its input, AdamW, batch 128,
    class-balanced weighted loss). Returns (mu, sd, net, 0.0), usable as `apply_head`'s and `Headed`'s head."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    mu, sd = f.mean(0), f.std(0) + 1e-4
    x = torch.from_numpy(((f - mu) / sd).astype(np.float32))
    t = torch.from_numpy(y.astype(np.float32))
    wt = torch.from_numpy(w.astype(np.float32)).clone()
    for c in (0, 1):
        wt[t == c] *= 0.5 * len(wt) / wt[t == c].sum()
    net = nn.Sequential(nn.Dropout(dropout), nn.Linear(x.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, 1))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=weight_decay)
    for _ in range(epochs):
        perm = torch.randperm(len(t))
        for i in range(0, len(perm), 128):
            b = perm[i:i + 128]
            opt.zero_grad()
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(net(x[b]).squeeze(1), t[b], reduction="none") * wt[b]).mean()
            loss.backward()
            opt.step()
    net.eval()
    return mu, sd, net, 0.0


def fit_joint(f: np.ndarray, prof, y: np.ndarray, w: np.ndarray, *, l2: float = 1e-3, epochs: int = 60, seed: int = 0):
    """A linear head on the standardised features plus the 1-D layout network on the line profiles,
    trained together (Adam, batch 128, class-balanced weighted loss, L2 on the linear weights)."""
    import torch

    torch.manual_seed(seed)
    mu, sd = f.mean(0), f.std(0) + 1e-4
    x = torch.from_numpy(((f - mu) / sd).astype(np.float32))
    pm, ps = prof.mean((0, 2), keepdim=True), prof.std((0, 2), keepdim=True) + 1e-4
    pn = (prof - pm) / ps
    t = torch.from_numpy(y.astype(np.float32))
    wt = torch.from_numpy(w.astype(np.float32)).clone()
    for c in (0, 1):
        wt[t == c] *= 0.5 * len(wt) / wt[t == c].sum()
    net, lin = profile_net(), torch.nn.Linear(x.shape[1], 1)
    opt = torch.optim.Adam(list(net.parameters()) + list(lin.parameters()), lr=1e-3)
    for _ in range(epochs):
        perm = torch.randperm(len(t))
        for i in range(0, len(perm), 128):
            b = perm[i:i + 128]
            opt.zero_grad()
            z = net(pn[b]).squeeze(1) + lin(x[b]).squeeze(1)
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(z, t[b], reduction="none") * wt[b]).mean()
            (loss + l2 * (lin.weight ** 2).sum()).backward()
            opt.step()
    net.eval()
    head = (mu, sd, lin.weight.detach().numpy().reshape(-1).astype(np.float64), float(lin.bias.detach()))
    return head, (net, pm, ps)


def apply_joint(f, prof, head, layout) -> np.ndarray:
    import torch

    net, pm, ps = layout
    with torch.no_grad():
        z = net((prof - pm) / ps).squeeze(1).numpy().astype(np.float64)
    mu, sd, weight, bias = head
    z = z + ((f - mu) / sd) @ weight + bias
    return 1 / (1 + np.exp(-np.clip(z, -50, 50)))


def profiles_of(pixels: np.ndarray):
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(pixels), 256):
            out.append(profiles(torch.from_numpy(pixels[i:i + 256]).permute(0, 3, 1, 2).float() / 255.0))
    return torch.cat(out) if out else torch.zeros(0, 14, SIZE)


def apply_head(f, mu, sd, weight, bias) -> np.ndarray:
    if not isinstance(weight, np.ndarray):  # an MLP head (fit_mlp)
        import torch

        with torch.no_grad():
            z = weight(torch.from_numpy(((f - mu) / sd).astype(np.float32))).squeeze(1).numpy().astype(np.float64)
        return 1 / (1 + np.exp(-np.clip(z, -50, 50)))
    z = ((f - mu) / sd) @ weight + bias
    return 1 / (1 + np.exp(-np.clip(z, -50, 50)))


def row_of(r: dict, kind: str) -> dict:
    """The evaluation row of a sample (as `__main__.rows_of`)."""
    label = int(r["compound"]) if kind == "compound" else int(bool(r["radiology"]))
    return {"source": r["source"], "kind": r["kind"] if r["source"] != "compound" else r["kind"].split(",")[0], "label": label}


def synthetic_pixels(truth: Path, kind: str) -> tuple[np.ndarray, np.ndarray]:
    d = tr.load_truth_csv(truth, kind, SIZE)
    return d.pixels, d.labels


def main(argv=None) -> int:
    from .__main__ import TARGETS, pixels_of, write_fixtures

    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init", type=Path, help="folder of the stage-2 models (frozen backbones); required but with "
                    "--fixtures-only")
    ap.add_argument("--out", type=Path, default=Path("models"))
    ap.add_argument("--synthetic", type=Path, help="truth.csv of the stage-1 synthetic corpus; required but with "
                    "--fixtures-only")
    ap.add_argument("--scale", type=float, default=2.0)
    ap.add_argument("--kinds", default="compound,radiology")
    ap.add_argument("--cache", type=Path, default=None, help="folder caching pixels and features between runs")
    ap.add_argument("--finetune", default="", help="per-model epochs of further fine-tuning (BatchNorm frozen) of the "
                    "backbone on this mix + the synthetic corpus before the head, e.g. compound=5")
    ap.add_argument("--layout-net", default="", help="models that get the 1-D layout network (comma-separated; measured 'compound' "
                    "in models/README.md, not the default)")
    ap.add_argument("--layout-epochs", type=int, default=60)
    ap.add_argument("--mlp", type=int, default=0, help="a one-hidden-layer MLP head of this width instead of logistic "
                    "regression (weight decay 0.01, 60 epochs, input dropout 0.2: chosen by grouped CV and val, "
                    "models/README.md); 0: logistic regression with the L2 strength chosen on val")
    ap.add_argument("--real-negative-weight", type=float, default=1.5, help="loss weight of real negative images (renders, "
                    "composed figures 1.0, real positives 1.5, synthetic 0.7)")
    ap.add_argument("--l2", default="0.01,0.003,0.001,0.0003,0.0001", help="L2 strengths tried; the best val AUC wins")
    ap.add_argument("--extra-eval", type=int, default=40, help="compound figures of the test split composed from every "
                    "family's panels, after the first round's 120 (val: half)")
    ap.add_argument("--families", choices=("all", "second-round", "first-round"), default="all", help="real sources of "
                    "the mix: all; the second round's (all but real.THIRD_ROUND and real.FOURTH_ROUND, no "
                    "extra windows): how the shipped radiology model is fitted; or only the first round's "
                    "(real.FIRST_ROUND, no extra val/test compound figures): how the shipped compound model is fitted; "
                    "see models/README.md")
    ap.add_argument("--fixtures", type=Path, default=None, help="write the fixed test split (files + manifest.csv) here")
    ap.add_argument("--ct-windows", action="store_true", help="train CT slices also in lung / bone / brain / abdominal "
                    "windows (real.CT_WINDOWS; tried in the third round and not kept: models/README.md)")
    ap.add_argument("--fixtures-only", action="store_true", help="only write the fixed test split of every family "
                    "(--fixtures), without training samples, and stop")
    args = ap.parse_args(argv)
    t0 = time.time()

    def log(msg):
        print(f"[{time.time() - t0:6.0f}s] {msg}", flush=True)

    cache = args.cache
    if cache:
        cache.mkdir(parents=True, exist_ok=True)
    first_round = args.families == "first-round"
    if args.fixtures_only:  # val / test do not depend on the training samples: build none of them
        if not args.fixtures:
            ap.error("--fixtures-only needs --fixtures")
        samples = dataset.build(args.seed, train_variants=0, renders_train=0, compounds_train=0, renders_eval=80,
                                compounds_eval=120, extra_eval=args.extra_eval, log=log)
        write_fixtures(args.fixtures, [x for x in samples if x.split == "test"])
        log(f"fixtures written to {args.fixtures}")
        return 0
    if not (args.init and args.synthetic):
        ap.error("--init and --synthetic are required (but with --fixtures-only)")
    if args.fixtures and args.families != "all":
        ap.error("--fixtures writes the test split of every family: use it with --families all or --fixtures-only")
    families = (real.FIRST_ROUND if first_round else None if args.families == "all"
                else tuple(f for f in real.FAMILIES if f not in real.THIRD_ROUND + real.FOURTH_ROUND))
    version = ("r1" if first_round else DATA_VERSION if args.families == "all" else "r2") + ("w" if args.ct_windows else "")
    tag = f"{version}-s{args.seed}-x{args.scale}"
    px_path = cache / f"pixels-{tag}.npz" if cache else None
    meta_path = cache / f"rows-{tag}.json" if cache else None
    if px_path and px_path.exists() and not args.fixtures:
        z = np.load(px_path)
        px = {s: z[s] for s in ("train", "val", "test")}
        info = json.loads(meta_path.read_text())
    else:
        samples = dataset.build(args.seed, train_variants=args.scale, renders_train=int(300 * args.scale),
                                compounds_train=int(450 * args.scale), renders_eval=80, compounds_eval=120,
                                extra_eval=0 if first_round else args.extra_eval, families=families,
                                windows=args.ct_windows, log=log)
        by = {s: [x for x in samples if x.split == s] for s in ("train", "val", "test")}
        if args.fixtures:
            write_fixtures(args.fixtures, by["test"])
            log(f"fixtures written to {args.fixtures}")
        px = {s: pixels_of(v) for s, v in by.items()}
        info = {s: [{"source": x.source, "kind": x.kind, "compound": x.compound, "radiology": x.radiology} for x in v]
                for s, v in by.items()}
        if px_path:
            np.savez(px_path, **px)
            meta_path.write_text(json.dumps(info))
    log({s: len(v) for s, v in px.items()})

    report_path = args.out / "real_test_report.json"
    cards = json.loads(report_path.read_text()) if report_path.exists() else {}
    for kind in args.kinds.split(","):
        backbone = args.init / f"{kind}.onnx"
        fpath = cache / f"features-{kind}-{tag}.npz" if cache else None
        keep = {s: np.array([kind == "compound" or not r["compound"] for r in info[s]], bool) for s in info}
        syn_path = cache / f"features-{kind}-synthetic.npz" if cache else None
        if syn_path and syn_path.exists():
            z = np.load(syn_path)
            syn_f, syn_y = z["f"], z["y"]
        else:
            syn_x, syn_y = synthetic_pixels(args.synthetic, kind)
            syn_f = extract(feature_model(backbone), syn_x, log=log)
            if syn_path:
                np.savez(syn_path, f=syn_f, y=syn_y)
        epochs = dict((k, int(v)) for k, v in (x.split("=") for x in args.finetune.split(",") if x)).get(kind, 0)
        tuned = None
        if epochs:
            tuned_path = cache / f"finetuned-{kind}-{tag}-e{epochs}.pt" if cache else None
            tuned = tr.from_onnx(backbone)
            if tuned_path and tuned_path.exists():
                import torch
                tuned.load_state_dict(torch.load(tuned_path))
            else:
                syn_x, syn_y2 = synthetic_pixels(args.synthetic, kind)
                labels = np.array([row_of(r, kind)["label"] for r, k in zip(info["train"], keep["train"]) if k])
                tr.fit(tuned, np.concatenate([px["train"][keep["train"]], syn_x]), np.concatenate([labels, syn_y2]),
                       epochs=epochs, lr=1e-3, seed=args.seed, frozen_bn=True, log=log)
                if tuned_path:
                    import torch
                    torch.save(tuned.state_dict(), tuned_path)
            fpath = cache / f"features-{kind}-{tag}-e{epochs}.npz" if cache else None
            syn_x, syn_y = synthetic_pixels(args.synthetic, kind)
            syn_f = extract(feature_model(deployable=tuned), syn_x, log=log)
        if fpath and fpath.exists():
            z = np.load(fpath)
            feats = {s: z[s] for s in ("train", "val", "test")}
        else:
            fm = feature_model(backbone, deployable=tuned)
            feats = {s: extract(fm, px[s][keep[s]], log=log) for s in ("train", "val", "test")}
            if fpath:
                np.savez(fpath, **feats)
        rows = {s: [row_of(r, kind) for r, k in zip(info[s], keep[s]) if k] for s in info}
        y = {s: np.array([r["label"] for r in rows[s]]) for s in info}
        f = feats  # features of the kept samples only
        # weights: real images, renders, composed compound figures and the synthetic corpus
        w_train = np.array([1.0 if r["source"] in ("render", "compound") else args.real_negative_weight if not r["label"] else 1.5
                            for r in rows["train"]])
        x_fit = np.concatenate([f["train"], syn_f])
        y_fit = np.concatenate([y["train"], syn_y])
        w_fit = np.concatenate([w_train, np.full(len(syn_y), 0.7)])
        log(f"{kind}: fit on {len(y_fit)} ({int(y_fit.sum())} positive; {len(syn_y)} synthetic), val {len(y['val'])}, "
            f"test {len(y['test'])}, {x_fit.shape[1]} features")
        layout = None
        if kind in args.layout_net.split(","):
            syn_px, _ = synthetic_pixels(args.synthetic, kind)
            prof = {s: profiles_of(px[s][keep[s]]) for s in ("train", "val", "test")}
            import torch

            l2 = 1e-3
            head, layout = fit_joint(x_fit, torch.cat([prof["train"], profiles_of(syn_px)]), y_fit, w_fit, l2=l2,
                                     epochs=args.layout_epochs, seed=args.seed)
            val_prob, test_prob = (apply_joint(f[s], prof[s], head, layout) for s in ("val", "test"))
            log(f"{kind}: linear head + 1-D layout network, {args.layout_epochs} epochs: val AUC "
                f"{dataset.roc_auc(val_prob[y['val'] == 1], val_prob[y['val'] == 0]):.4f}")
        elif args.mlp:
            l2 = 0.01  # the MLP's weight decay
            head = fit_mlp(x_fit, y_fit, w_fit, hidden=args.mlp, seed=args.seed)
            val_prob, test_prob = apply_head(f["val"], *head), apply_head(f["test"], *head)
            log(f"{kind}: MLP head ({args.mlp} hidden): val AUC {dataset.roc_auc(val_prob[y['val'] == 1], val_prob[y['val'] == 0]):.4f}")
        else:
            best = None
            for l2 in [float(v) for v in args.l2.split(",")]:
                head = fit_head(x_fit, y_fit, w_fit, l2=l2, seed=args.seed)
                vp = apply_head(f["val"], *head)
                auc = dataset.roc_auc(vp[y["val"] == 1], vp[y["val"] == 0])
                log(f"{kind}: l2 {l2}: val AUC {auc:.4f}")
                if best is None or auc > best[0] + 1e-9:
                    best = (auc, l2, head)
            _, l2, head = best
            val_prob, test_prob = apply_head(f["val"], *head), apply_head(f["test"], *head)
        if kind == "radiology":
            threshold = dataset.choose_threshold(val_prob, y["val"], min_recall=0.97)
        else:
            threshold = dataset.choose_threshold(val_prob, y["val"], max_fpr=0.03)
        card = {"val": dataset.report(rows["val"], val_prob, threshold, kind),
                "test": dataset.report(rows["test"], test_prob, threshold, kind)}
        cards[kind] = card
        log(f"{kind}: l2 {l2}, threshold {threshold:.4f}: {json.dumps(card['test']['overall'])}")
        _, Headed = _classes()
        model = Headed(feature_model(backbone, deployable=tuned), *head, layout=layout)
        meta = {
            "kind": kind, "input_size": SIZE, "layout": "NHWC uint8", "mean": tr.IMAGENET_MEAN, "std": tr.IMAGENET_STD,
            "labels": [tr.NEGATIVE[kind], tr.POSITIVE[kind]], "positive_label": tr.POSITIVE[kind], "threshold": round(threshold, 4),
            "threshold_rule": "highest threshold with recall >= 0.97 on the val split" if kind == "radiology"
            else "lowest threshold with FPR <= 0.03 on the val split's single images",
            "architecture": "torchvision mobilenet_v3_small (frozen: the stage-2 model fine-tuned on the real mix) + pooled "
                            "activations of 4 stages, its classifier's hidden layer and logit, layout features (gutters, "
                            "straight edges, repetition, intensity, colour) → standardised → "
                            + (f"MLP head ({args.mlp} hidden, ReLU, weight decay {l2})" if args.mlp else f"linear head (L2 {l2})")
                            + (" + a 1-D CNN over line profiles (mean, std, edge share per row / column, whole and per "
                               "half), trained jointly" if layout is not None else "" if args.mlp else ", logistic regression"),
            "training_data": "python -m rocov2_fast.modeldev.head: real images (chest-xray CC BY, pydicom(-data) DICOM, nibabel "
                             "MR volumes, scikit-image and matplotlib samples" + ("" if first_round else SECOND_ROUND_TEXT if args.families == "all"
                                                                        else SECOND_ROUND_TEXT.split("; third")[0])
                             + "; train split of source images, augmented) + renders "
                             "(matplotlib/seaborn charts, graphviz flow diagrams, RDKit structures, tables, text, gels) + compound "
                             "figures composed from them + the synthetic corpus of stage 1 (seed 1000)",
            "train_images": int(len(y_fit)), "val_images": int(len(y["val"])), "held_out_images": int(len(y["test"])),
            "held_out_metrics": card["test"]["overall"], "real_test_report": card["test"],
            "seed": args.seed, "l2": l2, "targets": TARGETS, "mlp_hidden": args.mlp,
            "layout_net_epochs": args.layout_epochs if layout is not None else 0,
        }
        tr.export_onnx(model, args.out / f"{kind}.onnx", SIZE, meta)
        log(f"wrote {args.out / f'{kind}.onnx'}")
        report_path.write_text(json.dumps(cards, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
