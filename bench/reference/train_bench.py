#!/usr/bin/python3
"""Training throughput of edgesight's own architectures in PyTorch on one thread, for
`npm run bench:train` (scripts/bench-train.ts), which pins it to one core with taskset.

The networks are built layer for layer as src/train/architectures.ts builds them (Keras
defaults carried over: batch norm epsilon 1e-3 and momentum 0.9, i.e. PyTorch momentum 0.1;
3x3 'same' convolutions without bias before batch norm; 2x2 max pooling; global average
pooling; dropout 0.3; softmax output trained with categorical cross-entropy). Adam, lr 1e-3.

The batch is the one edgesight trains on in the same benchmark: --data names a file of float32
images in NHWC order followed by int32 labels, as bench-train.ts writes it. Prints
samples_per_s=N cpu_samples_per_s=M (training steps only, after warm-up steps; by the wall
clock and by the process's CPU time).

  /usr/bin/python3 bench/reference/train_bench.py --arch compact --size 96 --channels 3 \
      --classes 4 --batch 32 --data /tmp/batch.bin [--steps 10] [--channels-last]
"""
import argparse
import time

import numpy as np
import torch
import torch.nn as nn


def conv_bn_relu(cin, cout, stride=1):
    # Keras 'same' with stride 2 on an even size pads only after (bottom/right); PyTorch pads
    # both sides. Same arithmetic, which is what is timed here.
    return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout, eps=1e-3, momentum=0.1), nn.ReLU()]


def compact(channels, classes, base=16, stem_stride=1):
    layers, cin = [], channels
    for block, f in enumerate((base, base * 2, base * 4)):
        layers += conv_bn_relu(cin, f, stem_stride if block == 0 else 1) + conv_bn_relu(f, f) + [nn.MaxPool2d(2)]
        cin = f
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(cin, classes))


def seed_cnn(size, channels, classes):
    flat = 64 * (((size - 2) // 2 - 2) // 2) ** 2
    return nn.Sequential(nn.Conv2d(channels, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(flat, 512), nn.ReLU(), nn.Linear(512, classes))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--arch', choices=['compact', 'compact-s2', 'seed-cnn'], required=True)
    p.add_argument('--size', type=int, required=True)
    p.add_argument('--channels', type=int, required=True)
    p.add_argument('--classes', type=int, required=True)
    p.add_argument('--batch', type=int, required=True)
    p.add_argument('--data', required=True)
    p.add_argument('--steps', type=int, default=10)
    p.add_argument('--channels-last', action='store_true')
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(1)

    n = a.batch * a.size * a.size * a.channels
    raw = np.fromfile(a.data, dtype=np.uint8)
    if raw.size != n * 4 + a.batch * 4:
        raise SystemExit(f'{a.data}: expected {n * 4 + a.batch * 4} bytes for this batch, got {raw.size}')
    x = torch.from_numpy(raw[: n * 4].view(np.float32).reshape(a.batch, a.size, a.size, a.channels).copy()).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy(raw[n * 4:].view(np.int32).astype(np.int64))

    if a.arch == 'seed-cnn':
        net = seed_cnn(a.size, a.channels, a.classes)
    else:
        net = compact(a.channels, a.classes, stem_stride=2 if a.arch == 'compact-s2' else 1)
    if a.channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    net.train()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    loss = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss(net(x), y).backward()
        opt.step()

    for _ in range(2):
        step()
    t, c = time.perf_counter(), time.process_time()
    for _ in range(a.steps):
        step()
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    print(f'samples_per_s={a.steps * a.batch / wall:.1f} cpu_samples_per_s={a.steps * a.batch / cpu:.1f}')


if __name__ == '__main__':
    main()
