#!/usr/bin/python3
"""edgesight's PyTorch training engine: runs the training steps of a network that edgesight
built in TF.js (src/train/architectures.ts), so that `edgesight train` gets native kernels
(oneDNN) and every core where Debian's python3-torch is installed. Started by
src/train/torch/engine.ts; everything else (data, augmentation, validation, export) stays in
edgesight.

Protocol, on stdin and stdout: each message is a 4-byte little-endian length, a JSON header of
that length, then `header["bytes"]` bytes of payload (float32, little-endian). Replies carry
either the answer or {"error": message}. Nothing else is written to stdout.

  build    {layers, input, loss, optimizer, lr, seed, threads, batches}  payload: the TF.js weights, in
           layer order (each layer.getWeights()), TF.js layouts      -> {torch, threads}
  step     {count, units, lr}  payload: x (NHWC) then y     -> {loss (null if not finite), accuracy}
           or {count, units, lr, shared, sharedBytes}: x then y at that offset of the batch
           file, whose descriptor build's {batches} named (a tmpfs file edgesight writes)
  predict  {count}             payload: x (NHWC)            -> payload: the outputs (after the
                                                               output layer's activation)
  weights  {}                                               -> payload: the weights, TF.js order
                                                               and layouts
"""
import fcntl
import json
import math
import os
import signal
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


PIPE_BYTES = 1 << 20


class BuildError(Exception):
    pass


def same_padding(size, kernel, stride):
    """Keras 'same': the output is ceil(size / stride); an odd total pads more after than before."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Conv(nn.Module):
    """Conv2D or DepthwiseConv2D as Keras computes it, 'same' padding included. `shape` is its
    input's [channels, height, width], fixed for the model: the padding and `out_shape` follow."""

    def __init__(self, cfg, shape, depthwise):
        super().__init__()
        cin, h, w = shape
        kh, kw = cfg['kernelSize']
        sh, sw = cfg['strides']
        if depthwise:
            cout = cin * cfg['depthMultiplier']
            groups = cin
        else:
            cout = cfg['filters']
            groups = 1
        if cfg['padding'] == 'same':
            top, bottom = same_padding(h, kh, sh)
            left, right = same_padding(w, kw, sw)
            self.out_shape = [cout, math.ceil(h / sh), math.ceil(w / sw)]
        else:
            top = bottom = left = right = 0
            self.out_shape = [cout, (h - kh) // sh + 1, (w - kw) // sw + 1]
        # Even padding goes to the convolution; Keras' uneven one (one more after) is a pad before it.
        even = top == bottom and left == right
        self.pad = None if even else (left, right, top, bottom)
        self.depthwise = depthwise
        self.weight_arrays = 2 if cfg['useBias'] else 1
        self.conv = nn.Conv2d(cin, cout, (kh, kw), stride=(sh, sw), padding=(top, left) if even else 0, groups=groups, bias=cfg['useBias'])
        self.activation = activation(cfg.get('activation', 'linear'))

    def forward(self, x):
        if self.pad is not None:
            x = F.pad(x, self.pad)
        return self.activation(self.conv(x))

    def load(self, arrays):
        # TF.js: conv [kh, kw, cin, cout]; depthwise [kh, kw, cin, multiplier]. PyTorch: [cout, cin/groups, kh, kw],
        # a depthwise output channel being cin * multiplier + m in both.
        kernel = arrays[0]
        if self.depthwise:
            kh, kw, cin, mult = kernel.shape
            weight = kernel.reshape(kh, kw, cin * mult).transpose(2, 0, 1)[:, None, :, :]
        else:
            weight = kernel.transpose(3, 2, 0, 1)
        self.conv.weight.data.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
        if self.conv.bias is not None:
            self.conv.bias.data.copy_(torch.from_numpy(arrays[1]))

    def dump(self):
        weight = self.conv.weight.detach().numpy()
        if self.depthwise:
            cout, _, kh, kw = weight.shape
            kernel = weight[:, 0, :, :].transpose(1, 2, 0).reshape(kh, kw, self.conv.groups, cout // self.conv.groups)
        else:
            kernel = weight.transpose(2, 3, 1, 0)
        out = [kernel]
        if self.conv.bias is not None:
            out.append(self.conv.bias.detach().numpy())
        return out


class Dense(nn.Module):
    def __init__(self, cfg, cin, final):
        super().__init__()
        self.linear = nn.Linear(cin, cfg['units'], bias=cfg['useBias'])
        self.weight_arrays = 2 if cfg['useBias'] else 1
        name = cfg.get('activation', 'linear')
        # The output layer's softmax or sigmoid is folded into the loss (log-softmax, logits).
        self.output_activation = name if final and name in ('softmax', 'sigmoid') else None
        self.activation = (lambda x: x) if self.output_activation else activation(name)

    def forward(self, x):
        return self.activation(self.linear(x))

    def load(self, arrays):
        self.linear.weight.data.copy_(torch.from_numpy(np.ascontiguousarray(arrays[0].T)))
        if self.linear.bias is not None:
            self.linear.bias.data.copy_(torch.from_numpy(arrays[1]))

    def dump(self):
        out = [self.linear.weight.detach().numpy().T]
        if self.linear.bias is not None:
            out.append(self.linear.bias.detach().numpy())
        return out


class BatchNorm(nn.Module):
    def __init__(self, cfg, channels, spatial):
        super().__init__()
        if not cfg.get('center', True) or not cfg.get('scale', True):
            raise BuildError('BatchNormalization without center or scale is not supported')
        cls = nn.BatchNorm2d if spatial else nn.BatchNorm1d
        # Keras' momentum keeps that share of the old average; PyTorch's takes that share of the new value.
        self.norm = cls(channels, eps=cfg['epsilon'], momentum=1 - cfg['momentum'])
        self.weight_arrays = 4  # gamma, beta, moving mean, moving variance

    def forward(self, x):
        n = self.norm
        if not self.training:
            return n(x)
        count = x.numel() // x.shape[1]
        if count == 1:
            # One value per channel (a last batch of one on a 1x1 map): PyTorch refuses it; Keras
            # normalizes to the offset (the value minus its own mean is 0) and averages in a
            # variance of 0.
            with torch.no_grad():
                n.running_mean.mul_(1 - n.momentum).add_(x.detach().reshape(-1), alpha=n.momentum)
                n.running_var.mul_(1 - n.momentum)
            # The scale's gradient is 0 then, but it must be a gradient (not none), or the
            # optimizer would skip the scale in this step where TF.js updates it.
            shape = [1, -1] + [1] * (x.dim() - 2)
            return x * 0 + n.weight.reshape(shape) * 0 + n.bias.reshape(shape)
        # PyTorch averages the unbiased batch variance into running_var, Keras the biased one (the
        # one it normalizes with): take back the difference, var/count of the unbiased variance.
        previous = n.running_var.clone()
        y = n(x)
        with torch.no_grad():
            unbiased = (n.running_var - (1 - n.momentum) * previous) / n.momentum
            # A new tensor, not an in-place change: the backward pass still holds the old one.
            n.running_var = n.running_var - unbiased * (n.momentum / count)
        return y

    def load(self, arrays):
        gamma, beta, mean, var = arrays
        self.norm.weight.data.copy_(torch.from_numpy(gamma))
        self.norm.bias.data.copy_(torch.from_numpy(beta))
        self.norm.running_mean.copy_(torch.from_numpy(mean))
        self.norm.running_var.copy_(torch.from_numpy(var))

    def dump(self):
        n = self.norm
        return [n.weight.detach().numpy(), n.bias.detach().numpy(), n.running_mean.numpy(), n.running_var.numpy()]


class TfjsRmsProp(torch.optim.Optimizer):
    """RMSProp as TF.js computes it (decay 0.9, no momentum, not centred): the step divides by
    sqrt(mean square + epsilon), where PyTorch's RMSprop divides by sqrt(mean square) + epsilon,
    which for small gradients is a step ten times as large."""

    def __init__(self, params, lr, decay=0.9, eps=1e-7):
        super().__init__(params, {'lr': lr, 'decay': decay, 'eps': eps})

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group['params']:
                if p.grad is None:
                    continue
                state = self.state[p]
                if 'mean_square' not in state:
                    state['mean_square'] = torch.zeros_like(p)
                mean_square = state['mean_square']
                mean_square.mul_(group['decay']).addcmul_(p.grad, p.grad, value=1 - group['decay'])
                p.addcdiv_(p.grad, (mean_square + group['eps']).sqrt_(), value=-group['lr'])


class Stateless(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def activation(name):
    table = {
        'linear': lambda x: x,
        'relu': F.relu,
        'relu6': lambda x: F.hardtanh(x, 0.0, 6.0),
        'sigmoid': torch.sigmoid,
        'tanh': torch.tanh,
        'softmax': lambda x: F.softmax(x, dim=1),
        'elu': F.elu,
        'selu': F.selu,
        'softplus': F.softplus,
        'swish': F.silu,
    }
    if name not in table:
        raise BuildError(f"activation '{name}' is not supported")
    return table[name]


def build(layers, input_shape):
    """The TF.js layers (class name and config) as PyTorch modules working on NCHW tensors."""
    h, w, c = input_shape
    shape = [c, h, w]  # per example, NCHW; a flat vector after Flatten or pooling
    modules = []
    for i, layer in enumerate(layers):
        kind, cfg = layer['className'], layer['config']
        final = i == len(layers) - 1
        if kind in ('Conv2D', 'DepthwiseConv2D'):
            if len(shape) != 3:
                raise BuildError(f"layer {layer['name']}: {kind} after the image was flattened")
            if tuple(cfg.get('dilationRate', (1, 1))) not in ((1, 1), (1,), 1) or cfg.get('dataFormat', 'channelsLast') != 'channelsLast':
                raise BuildError(f"layer {layer['name']}: dilated or channels-first convolutions are not supported")
            m = Conv(cfg, shape, kind == 'DepthwiseConv2D')
            shape = m.out_shape
        elif kind == 'BatchNormalization':
            if cfg.get('axis', -1) not in (-1, 3 if len(shape) == 3 else 1):
                raise BuildError(f"layer {layer['name']}: batch norm over axis {cfg['axis']} is not supported")
            m = BatchNorm(cfg, shape[0], len(shape) == 3)
        elif kind == 'Activation':
            m = Stateless(activation(cfg['activation']))
        elif kind == 'ReLU':
            limit = cfg.get('maxValue')
            m = Stateless((lambda x, t=float(limit): F.hardtanh(x, 0.0, t)) if limit is not None else F.relu)
        elif kind == 'MaxPooling2D':
            if cfg.get('padding', 'valid') != 'valid':
                raise BuildError(f"layer {layer['name']}: max pooling with '{cfg['padding']}' padding is not supported")
            pool, stride = tuple(cfg['poolSize']), tuple(cfg['strides'] or cfg['poolSize'])
            m = Stateless(lambda x, p=pool, s=stride: F.max_pool2d(x, p, s))
            shape = [shape[0], (shape[1] - pool[0]) // stride[0] + 1, (shape[2] - pool[1]) // stride[1] + 1]
        elif kind == 'GlobalAveragePooling2D':
            m = Stateless(lambda x: x.mean(dim=(2, 3)))
            shape = [shape[0]]
        elif kind == 'Flatten':
            # TF.js flattens NHWC: the dense kernel's rows are in (row, column, channel) order.
            m = Stateless(lambda x: x.permute(0, 2, 3, 1).reshape(x.shape[0], -1) if x.dim() == 4 else x)
            shape = [int(np.prod(shape))]
        elif kind == 'Dropout':
            m = nn.Dropout(cfg['rate'])
        elif kind == 'Dense':
            if len(shape) != 1:
                raise BuildError(f"layer {layer['name']}: Dense on an unflattened image is not supported")
            m = Dense(cfg, shape[0], final)
            shape = [cfg['units']]
        else:
            raise BuildError(f"layer {layer['name']}: {kind} is not supported by the PyTorch engine")
        modules.append(m)
    return nn.Sequential(*modules)


def finite(value):
    """JSON has no NaN or infinity (a diverging run's loss): those travel as null."""
    return value if math.isfinite(value) else None


def weighted(net):
    return [m for m in net if hasattr(m, 'load')]


class SharedBatches:
    """The file edgesight writes each batch into (on tmpfs), mapped here: the step reads the
    pixels where they lie, instead of copying megabytes out of the pipe at every step."""

    def __init__(self, fd):
        self.file = open(fd, 'r+b')
        self.map = None

    def bytes(self, offset, length):
        if self.map is None or offset + length > self.map.size:
            # edgesight grew the file for a larger batch: map it again.
            self.map = np.memmap(self.file, dtype=np.uint8, mode='r+')
        return self.map[offset:offset + length]


class Engine:
    def __init__(self):
        self.net = None
        self.shared = None

    def build(self, header, payload):
        torch.manual_seed(header['seed'])
        if header.get('batches'):
            self.shared = SharedBatches(header['batches'])
        threads = header.get('threads') or len(os.sched_getaffinity(0))
        torch.set_num_threads(threads)
        self.input = header['input']
        self.net = build(header['layers'], self.input).to(memory_format=torch.channels_last)
        self.load_weights(header['weights'], payload)
        self.binary = header['loss'] == 'binary'
        self.output = self.net[-1].output_activation if isinstance(self.net[-1], Dense) else None
        if (self.output == 'sigmoid') != self.binary or (not self.binary and self.output != 'softmax'):
            raise BuildError(f"the output layer's activation ({self.output or 'none'}) does not match the {header['loss']} loss")
        params = self.net.parameters()
        name, lr = header['optimizer'], header['lr']
        # TF.js' defaults: epsilon 1e-7 everywhere, RMSProp's decay 0.9.
        if name == 'adam':
            self.optimizer = torch.optim.Adam(params, lr, betas=(0.9, 0.999), eps=1e-7)
        elif name == 'rmsprop':
            self.optimizer = TfjsRmsProp(params, lr)
        elif name == 'sgd':
            self.optimizer = torch.optim.SGD(params, lr)
        else:
            raise BuildError(f"optimizer '{name}' is not supported")
        return {'torch': torch.__version__, 'threads': torch.get_num_threads()}, b''

    def load_weights(self, shapes, payload):
        flat = np.frombuffer(payload, dtype='<f4')
        arrays, offset = [], 0
        for shape in shapes:
            n = int(np.prod(shape)) if shape else 1
            arrays.append(flat[offset:offset + n].reshape(shape).copy())
            offset += n
        if offset != flat.size:
            raise BuildError(f'{flat.size} weight values received, the layers hold {offset}')
        for module in weighted(self.net):
            module.load(arrays[:module.weight_arrays])
            arrays = arrays[module.weight_arrays:]
        if arrays:
            raise BuildError(f'{len(arrays)} weight arrays left over after the last layer')

    def images(self, payload, count):
        h, w, c = self.input
        n = count * h * w * c
        x = torch.from_numpy(np.frombuffer(payload, dtype='<f4', count=n).reshape(count, h, w, c))
        # NHWC viewed as NCHW is exactly PyTorch's channels-last layout: no copy.
        return x.permute(0, 3, 1, 2), n * 4

    def step(self, header, payload):
        count, units = header['count'], header['units']
        if 'shared' in header:
            payload = self.shared.bytes(header['shared'], header['sharedBytes'])
        x, used = self.images(payload, count)
        y = torch.from_numpy(np.frombuffer(payload, dtype='<f4', count=count * units, offset=used).reshape(count, units))
        for group in self.optimizer.param_groups:
            group['lr'] = header['lr']
        self.net.train()
        self.optimizer.zero_grad(set_to_none=True)
        logits = self.net(x)
        if self.binary:
            loss = F.binary_cross_entropy_with_logits(logits[:, 0], y[:, 0])
            correct = ((logits[:, 0] > 0) == (y[:, 0] > 0.5)).float().mean()
        else:
            loss = -(y * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
            correct = (logits.argmax(dim=1) == y.argmax(dim=1)).float().mean()
        loss.backward()
        self.optimizer.step()
        return {'loss': finite(float(loss)), 'accuracy': float(correct)}, b''

    def predict(self, header, payload):
        x, _ = self.images(payload, header['count'])
        self.net.eval()
        with torch.inference_mode():
            out = self.net(x)
            out = torch.sigmoid(out) if self.output == 'sigmoid' else F.softmax(out, dim=1) if self.output == 'softmax' else out
        return {'shape': list(out.shape)}, out.contiguous().numpy().astype('<f4').tobytes()

    def weights(self, header, payload):
        arrays = [a for m in weighted(self.net) for a in m.dump()]
        return {'shapes': [list(a.shape) for a in arrays]}, b''.join(np.ascontiguousarray(a, dtype='<f4').tobytes() for a in arrays)


def read_exactly(stream, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = stream.readinto(view[got:])
        if not k:
            return None
        got += k
    return buf


def main():
    # Ctrl-C in a terminal reaches the whole process group: edgesight decides how training stops
    # (after the current batch, keeping the best epoch); this engine ends when its stdin closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # A batch is megabytes: with the default 64 KiB pipe it crosses in dozens of turns between the
    # two processes, which on one core costs several percent of a step.
    for stream in (stdin, stdout):
        try:
            fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:
            pass  # not a pipe, or above /proc/sys/fs/pipe-max-size: the default works, a little slower
    engine = Engine()
    ops = {'build': engine.build, 'step': engine.step, 'predict': engine.predict, 'weights': engine.weights}
    while True:
        head = read_exactly(stdin, 4)
        if head is None:
            return
        header = json.loads(read_exactly(stdin, struct.unpack('<I', head)[0]))
        payload = read_exactly(stdin, header.get('bytes', 0)) if header.get('bytes') else b''
        try:
            if header['op'] != 'build' and engine.net is None:
                raise BuildError(f"'{header['op']}' before 'build'")
            reply, data = ops[header['op']](header, payload)
        except (BuildError, KeyError, ValueError, RuntimeError) as err:
            reply, data = {'error': str(err) if not isinstance(err, KeyError) else f'missing field {err}'}, b''
        reply['bytes'] = len(data)
        encoded = json.dumps(reply, allow_nan=False).encode()
        stdout.write(struct.pack('<I', len(encoded)) + encoded)
        stdout.write(data)
        stdout.flush()


if __name__ == '__main__':
    main()
