"""The PyTorch side of `npm run bench -- images`: lenet5-modern on a folder of pictures
(train/<class>/*, test/<class>/*), trained exactly as the studio's bench trains it
(bench/images.ts -> src/core/training/trainer.ts, src/core/models/build.ts). Each choice, and where
the studio makes it:

  * Pixels: uint8 RGB / 255, no normalisation, no augmentation (TrainConfig normalize null,
    augment off; trainer.ts upload()). The PNGs are read by the small decoder below (PIL is not
    installed here); they are 32x32, so nothing is resized, and the studio's import keeps them
    as they are. The script prints the train split's per-channel pixel mean, which the bench
    prints for the studio's imported arrays too: equal means, same pixels.
  * Network: src/core/models/fit.ts fitted to 3x32x32 / 10 classes: conv 6@5x5 (no padding at
    32 px), BN, ReLU, max 2/2, conv 16@5x5, BN, ReLU, max 2/2, flatten (400), linear 120, BN1d,
    ReLU, linear 84, BN1d, ReLU, linear 10. Flatten order differs (tfjs is NHWC) but that only
    permutes the 400 features.
  * Initialisation (build.ts, init 'default', which the bench uses): conv and linear weights AND
    biases U(-1/sqrt(fan_in), +1/sqrt(fan_in)), fan_in = in_channels*k*k or in_features;
    BatchNorm gamma 1, beta 0, running mean 0, running var 1. Written out below instead of
    relying on PyTorch's defaults (kaiming_uniform_(a=sqrt(5)) gives the same bound), so that a
    change of either side's defaults shows here. INIT=xavier mirrors build.ts' 'xavier' instead
    (xavier_uniform_ weights, the same biases).
  * BatchNorm: momentum 0.1 and eps 1e-5 (build.ts passes Keras momentum 0.9 = PyTorch's 0.1, and
    eps 1e-5). PyTorch's running variance is unbiased, tfjs' biased: a factor n/(n-1) with n >= 128
    per channel, which changes nothing measurable.
  * Optimiser: Adam lr 1e-3, betas (0.9, 0.999), eps 1e-8 (trainer.ts makeOptimizer passes 1e-8,
    not tfjs' 1e-7 default); no weight decay; mean cross-entropy.
  * Data order: a fresh permutation of the training set every epoch, batches of 128, the last
    one smaller (4,000 = 31 x 128 + 32), none dropped (trainer.ts epochOrder; the permutations
    are drawn by another generator, so they are equally random, not the same).
  * Test split: the folder's own test/ (1,000 pictures); the studio's bench validates on it
    (validation source 'test') and, at the end, restores the epoch with the best test accuracy
    (the first one, on ties) and reports that epoch's test accuracy. This script evaluates the
    test split after every epoch (eval mode: BatchNorm running statistics) and reports the same
    figure as `bestAcc` (= `testAcc`), and the last epoch's as `lastAcc`: compare like with like.
  * Seed: SEED (default 1) seeds torch; SEEDS=1,2,3 trains once per seed (one line each) on one
    decoding of the files. One thread per core.

usage: [SEED=n | SEEDS=a,b,c] [INIT=default|xavier] python3 bench/torch_folder.py <folder> [epochs]   -> a JSON line per seed
"""
import json
import math
import os
import struct
import sys
import time
import zlib

import numpy as np
import torch
from torch import nn


def read_png(path):
    """8-bit RGB/RGBA/gray non-interlaced PNG (what sharp writes) -> HxWx3 uint8."""
    data = open(path, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n', path
    pos, idat, w = 8, b'', None
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b'IHDR':
            w, h, depth, ctype, _, _, interlace = struct.unpack('>IIBBBBB', body)
            assert depth == 8 and interlace == 0, path
            bpp = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
        elif kind == b'IDAT':
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    out = np.zeros((h, stride), dtype=np.int32)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1).astype(np.int32)
        cur = np.zeros(stride, dtype=np.int32)
        if f == 0:
            cur = line
        elif f == 1:
            cur = line.reshape(w, bpp).cumsum(axis=0).reshape(stride) & 255
        elif f == 2:
            cur = (line + prev) & 255
        if f >= 3:
            # Average and Paeth depend on the pixel just decoded: a plain Python loop over ints
            # (numpy scalar indexing is several times slower here).
            ln, pv, cu = line.tolist(), prev.tolist(), [0] * stride
            for x in range(stride):
                a = cu[x - bpp] if x >= bpp else 0
                b = pv[x]
                if f == 3:
                    p = (a + b) >> 1
                else:
                    c = pv[x - bpp] if x >= bpp else 0
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cu[x] = (ln[x] + p) & 255
            cur = np.array(cu, dtype=np.int32)
        out[y] = cur
        prev = cur
    img = out.reshape(h, w, bpp).astype(np.uint8)
    if bpp == 1: img = np.repeat(img, 3, axis=2)
    if bpp == 2: img = np.repeat(img[:, :, :1], 3, axis=2)
    return img[:, :, :3]


def load(folder, classes=None):
    classes = classes or sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))
    xs, ys = [], []
    for k, c in enumerate(classes):
        for name in sorted(os.listdir(os.path.join(folder, c))):
            xs.append(read_png(os.path.join(folder, c, name)))
            ys.append(k)
    x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).float() / 255.0
    return x, torch.tensor(ys), classes


def lenet5_modern(c=3, classes=10):
    # As src/core/models/fit.ts fits it to 3x32x32 (no padding on the first convolution).
    return nn.Sequential(
        nn.Conv2d(c, 6, kernel_size=5), nn.BatchNorm2d(6, eps=1e-5, momentum=0.1), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16, eps=1e-5, momentum=0.1), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.BatchNorm1d(120, eps=1e-5, momentum=0.1), nn.ReLU(),
        nn.Linear(120, 84), nn.BatchNorm1d(84, eps=1e-5, momentum=0.1), nn.ReLU(),
        nn.Linear(84, classes))


def init_as_studio(model, init):
    """build.ts' initialisers: weights (init 'default') and biases U(+-1/sqrt(fan_in))."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                bound = 1 / math.sqrt(fan_in)
                if init == 'xavier':
                    nn.init.xavier_uniform_(m.weight)
                else:
                    nn.init.uniform_(m.weight, -bound, bound)
                nn.init.uniform_(m.bias, -bound, bound)
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
                m.reset_running_stats()


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def train_once(seed, init, epochs, xtr, ytr, xte, yte, classes):
    torch.manual_seed(seed)
    model = lenet5_modern(3, len(classes))
    init_as_studio(model, init)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)
    loss_fn = nn.CrossEntropyLoss()
    per_epoch = []
    seconds = 0.0
    for _ in range(epochs):
        t = time.time()
        model.train()
        order = torch.randperm(len(ytr))
        for i in range(0, len(ytr), 128):
            idx = order[i:i + 128]
            opt.zero_grad()
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
        seconds += time.time() - t
        per_epoch.append(accuracy(model, xte, yte))
    best = max(range(epochs), key=lambda e: (per_epoch[e], -e))
    return {
        'testAcc': per_epoch[best], 'bestAcc': per_epoch[best], 'bestEpoch': best + 1, 'lastAcc': per_epoch[-1],
        'perEpoch': [round(a, 4) for a in per_epoch], 'seconds': seconds, 'seed': seed, 'init': init}


def main():
    folder = sys.argv[1]
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    # SEEDS=1,2,3 trains once per seed on one decoding of the files, a JSON line each.
    seeds = [int(v) for v in os.environ.get('SEEDS', os.environ.get('SEED', '1')).split(',')]
    init = os.environ.get('INIT', 'default')
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    xtr, ytr, classes = load(os.path.join(folder, 'train'))
    xte, yte, _ = load(os.path.join(folder, 'test'), classes)
    mean = [round(v, 6) for v in xtr.mean(dim=(0, 2, 3)).tolist()]
    for seed in seeds:
        out = train_once(seed, init, epochs, xtr, ytr, xte, yte, classes)
        out.update({'torch': torch.__version__, 'train': len(ytr), 'test': len(yte), 'trainPixelMean': mean})
        print(json.dumps(out), flush=True)


if __name__ == '__main__':
    main()
