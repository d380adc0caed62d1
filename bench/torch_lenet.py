"""LeNet-5 (d2l ch. 6) trained in PyTorch with d2l's settings, as the reference for bench/training.ts
and bench/accuracy.ts; AlexNet (d2l ch. 7, one channel, 224x224) for the bench's step time.

usage:
  PYTHONPATH=/tmp/pylib python3 bench/torch_lenet.py --steps 200 --chunks 5  # throughput only, synthetic data:
                                                                           # median of 5 timed chunks of 40 steps
  ... --model alexnet --batch-size 128 --lr 0.01 --steps 3 --chunks 3       # AlexNet seconds per step
  PYTHONPATH=/tmp/pylib python3 bench/torch_lenet.py --data DIR --epochs 10 --seed 0   # accuracy run on IDX files
  ... --optimizer adam --lr 0.001 --batch-size 128 --val-split 0.2 --init default    # the train/val/test script's recipe

Model, init (xavier_uniform_ on Linear/Conv2d weights, PyTorch's default biases), SGD lr 0.9, batch
256, pixel/255 inputs, cross-entropy: as d2l's train_ch6. Prints one JSON line at the end
(`TORCH_JSON {...}`) with examples/s and, for accuracy runs, the test accuracy per epoch.
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
from torch import nn


def read_idx(folder, base):
    for name in (base + '.gz', base):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            opener = gzip.open if name.endswith('.gz') else open
            with opener(path, 'rb') as f:
                raw = f.read()
            magic = int.from_bytes(raw[0:4], 'big')
            if magic == 2051:
                n, h, w = (int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(3))
                return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, 1, h, w)
            if magic == 2049:
                return np.frombuffer(raw, dtype=np.uint8, offset=8)
            raise ValueError(f'{path}: bad IDX magic {magic}')
    raise FileNotFoundError(f'{folder}: neither {base} nor {base}.gz')


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


def alexnet():
    return nn.Sequential(
        nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.Linear(6400, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, 10))


def init_weights(m):
    if type(m) == nn.Linear or type(m) == nn.Conv2d:
        nn.init.xavier_uniform_(m.weight)


def evaluate(net, x, y, batch=1024):
    net.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            right += (net(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    net.train()
    return right / len(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', help='folder with the four IDX files (gz or raw); synthetic data of the same shape if absent')
    ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--steps', type=int, default=0, help='time this many steps (after warm-up steps) and stop')
    ap.add_argument('--chunks', type=int, default=1, help='with --steps: time them in this many chunks; the figure is the median chunk')
    ap.add_argument('--warmup', type=int, default=5, help='with --steps: untimed steps first')
    ap.add_argument('--model', choices=['lenet5', 'alexnet'], default='lenet5')
    ap.add_argument('--batch-size', type=int, default=256)
    ap.add_argument('--lr', type=float, default=0.9)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--optimizer', choices=['sgd', 'adam'], default='sgd')
    ap.add_argument('--init', choices=['xavier', 'default'], default='xavier')
    ap.add_argument('--val-split', type=float, default=0.0,
                    help='hold out this fraction of the training set; the test accuracy reported is then the best epoch by validation accuracy')
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    if args.data:
        xtr = torch.from_numpy(read_idx(args.data, 'train-images-idx3-ubyte').astype(np.float32) / 255)
        ytr = torch.from_numpy(read_idx(args.data, 'train-labels-idx1-ubyte').astype(np.int64))
        xte = torch.from_numpy(read_idx(args.data, 't10k-images-idx3-ubyte').astype(np.float32) / 255)
        yte = torch.from_numpy(read_idx(args.data, 't10k-labels-idx1-ubyte').astype(np.int64))
    elif args.model == 'alexnet':
        # Throughput only: as many 224x224 images as the timed steps take (60k would be 12 GB).
        count = args.batch_size * (args.steps + args.warmup)
        xtr, ytr = torch.rand(count, 1, 224, 224), torch.randint(0, 10, (count,))
        xte, yte = xtr[:2], ytr[:2]
    else:
        xtr, ytr = torch.rand(60000, 1, 28, 28), torch.randint(0, 10, (60000,))
        xte, yte = torch.rand(10000, 1, 28, 28), torch.randint(0, 10, (10000,))

    xval = yval = None
    if args.val_split > 0:
        perm = torch.randperm(len(xtr))
        n_val = round(len(xtr) * args.val_split)
        xval, yval = xtr[perm[:n_val]], ytr[perm[:n_val]]
        xtr, ytr = xtr[perm[n_val:]], ytr[perm[n_val:]]

    net = alexnet() if args.model == 'alexnet' else lenet5()
    if args.init == 'xavier':
        net.apply(init_weights)
    if args.optimizer == 'adam':
        opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    n = len(xtr)
    bs = args.batch_size

    def step(idx):
        x, y = xtr[idx], ytr[idx]
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return loss

    out = {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'batchSize': bs, 'model': args.model,
           'glibcTunables': os.environ.get('GLIBC_TUNABLES', '')}
    if args.steps > 0:
        perm = torch.randperm(n)
        for s in range(args.warmup):
            step(perm[s * bs:(s + 1) * bs]).item()
        per_chunk = max(1, args.steps // args.chunks)
        seconds_per_step = []
        s = args.warmup
        for _ in range(args.chunks):
            t0 = time.perf_counter()
            for _ in range(per_chunk):
                i = s % (n // bs)
                s += 1
                step(perm[i * bs:(i + 1) * bs]).item()
            seconds_per_step.append((time.perf_counter() - t0) / per_chunk)
        median = sorted(seconds_per_step)[len(seconds_per_step) // 2]
        out.update({'steps': per_chunk * args.chunks, 'secondsPerStep': seconds_per_step, 'medianSecondsPerStep': median,
                    'examplesPerSec': bs / median})
    else:
        epochs = []
        total_secs = 0.0
        best_val, best_test = -1.0, None
        for epoch in range(args.epochs):
            perm = torch.randperm(n)
            t0 = time.perf_counter()
            loss_sum = 0.0
            for i in range(0, n, bs):
                idx = perm[i:i + bs]
                loss_sum += step(idx).item() * len(idx)
            secs = time.perf_counter() - t0
            total_secs += secs
            test_acc = evaluate(net, xte, yte)
            val_acc = evaluate(net, xval, yval) if xval is not None else test_acc
            if val_acc > best_val:
                best_val, best_test = val_acc, test_acc
            epochs.append({'epoch': epoch + 1, 'trainLoss': loss_sum / n, 'valAcc': val_acc, 'testAcc': test_acc, 'examplesPerSec': n / secs})
            print(f'epoch {epoch + 1}: loss {loss_sum / n:.3f}, val acc {val_acc:.3f}, test acc {test_acc:.3f}, {n / secs:.0f} examples/sec', flush=True)
        out.update({'epochs': epochs, 'testAcc': epochs[-1]['testAcc'], 'bestValAcc': best_val, 'testAccAtBestVal': best_test,
                    'examplesPerSec': n * args.epochs / total_secs})
    print('TORCH_JSON ' + json.dumps(out), flush=True)


if __name__ == '__main__':
    main()
