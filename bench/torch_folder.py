"""The PyTorch side of `npm run bench -- images`: lenet5-modern on a folder of pictures
(train/<class>/*, test/<class>/*), trained as the studio trains it: Adam 1e-3, batch 128, pixels
/ 255 (no normalisation, no augmentation), PyTorch's default initialisation, shuffled every epoch,
test accuracy after the last epoch. Reads the same PNG files with a small decoder below (PIL is not installed here; no resizing:
they are 32x32).

usage: python3 bench/torch_folder.py <folder> [epochs]   -> one JSON line
"""
import json
import os
import sys
import time

import numpy as np
import torch
import struct
import zlib
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
        for x in (range(stride) if f >= 3 else ()):
            a = cur[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 0: p = 0
            elif f == 1: p = a
            elif f == 2: p = b
            elif f == 3: p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[x] = (line[x] + p) & 255
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
        nn.Conv2d(c, 6, kernel_size=5), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.BatchNorm1d(120), nn.ReLU(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.ReLU(),
        nn.Linear(84, classes))


def main():
    folder = sys.argv[1]
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    torch.manual_seed(int(os.environ.get("SEED", "1")))
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    xtr, ytr, classes = load(os.path.join(folder, 'train'))
    xte, yte, _ = load(os.path.join(folder, 'test'), classes)
    model = lenet5_modern(3, len(classes))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    t = time.time()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(ytr))
        for i in range(0, len(ytr), 128):
            idx = order[i:i + 128]
            opt.zero_grad()
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
    seconds = time.time() - t
    model.eval()
    with torch.no_grad():
        acc = (model(xte).argmax(1) == yte).float().mean().item()
    print(json.dumps({'testAcc': acc, 'seconds': seconds, 'torch': torch.__version__, 'train': len(ytr), 'test': len(yte)}))


if __name__ == '__main__':
    main()
