"""Builds the network edgesight exported (src/bench/export-reference.ts) as torch modules.

topology.json lists the layers in evaluation order with Keras settings; weights.bin holds each
weight in its Keras layout (kernels height x width x in x out, Dense in x out). Keras works in
NHWC, torch in NCHW: activations are held NCHW throughout, the weights are permuted once here,
and Flatten goes back to NHWC order first, or the Dense weights after it would meet the wrong
pixels.
"""
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FORMAT = "edgesight-reference-1"


class UnsupportedLayer(Exception):
    pass


def load_export(directory):
    """The topology and the weights blob (float32) of an export directory."""
    with open(os.path.join(directory, "topology.json"), encoding="utf-8") as f:
        topology = json.load(f)
    if topology.get("format") != FORMAT:
        raise ValueError(f"{directory}/topology.json: format {topology.get('format')!r}, expected {FORMAT!r}")
    blob = np.fromfile(os.path.join(directory, "weights.bin"), dtype="<f4")
    return topology, blob


def _weight(blob, layer, key):
    w = layer["weights"][key]
    count = int(np.prod(w["shape"]))
    return blob[w["offset"]:w["offset"] + count].reshape(w["shape"])


def _activation(name, rank, where):
    if name == "linear":
        return None
    simple = {"relu": nn.ReLU(), "relu6": nn.ReLU6(), "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(), "elu": nn.ELU(),
              "selu": nn.SELU(), "softplus": nn.Softplus(), "softsign": nn.Softsign(), "swish": nn.SiLU()}
    if name in simple:
        return simple[name]
    if name == "hardSigmoid":  # Keras's: clip(0.2 x + 0.5, 0, 1)
        return Lambda(lambda x: torch.clamp(0.2 * x + 0.5, 0.0, 1.0))
    if name == "softmax":
        if rank != 2:
            raise UnsupportedLayer(f"{where}: softmax over a rank-{rank} value")
        return nn.Softmax(dim=1)
    raise UnsupportedLayer(f"{where}: activation {name}")


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def _padded(module, pads, value=0.0):
    """`module` after padding [top, left, bottom, right]: in the module when symmetric, else by F.pad first."""
    top, left, bottom, right = pads
    if top == bottom and left == right:
        return module, (top, left)
    return nn.Sequential(Lambda(lambda x: F.pad(x, (left, right, top, bottom), value=value)), module), (0, 0)


def _conv(layer, blob, where):
    c = layer["config"]
    op = layer["op"]
    kh, kw = c["kernel"]
    bias = torch.from_numpy(_weight(blob, layer, "bias").copy()) if c["useBias"] else None
    if op == "Conv2D":
        k = _weight(blob, layer, "kernel")  # kh, kw, in, out
        weight = np.ascontiguousarray(k.transpose(3, 2, 0, 1))
        groups = 1
    else:
        k = _weight(blob, layer, "depthwise_kernel")  # kh, kw, in, multiplier
        cin, mult = k.shape[2], k.shape[3]
        # Keras's depthwise output channel c*m + j is torch group c's output j: the same index.
        weight = np.ascontiguousarray(k.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw))
        groups = cin
    out_c, in_per_group = weight.shape[0], weight.shape[1]
    top, left, bottom, right = c["pads"]
    symmetric = top == bottom and left == right
    conv = nn.Conv2d(in_per_group * groups, out_c, (kh, kw), stride=tuple(c["strides"]), dilation=tuple(c["dilation"]),
                     padding=(top, left) if symmetric else 0, groups=groups, bias=op != "SeparableConv2D" and bias is not None)
    conv.weight.data = torch.from_numpy(weight)
    if conv.bias is not None:
        conv.bias.data = bias
    parts = [] if symmetric else [Lambda(lambda x: F.pad(x, (left, right, top, bottom)))]
    parts.append(conv)
    if op == "SeparableConv2D":
        p = _weight(blob, layer, "pointwise_kernel")  # 1, 1, in, out
        point = nn.Conv2d(p.shape[2], p.shape[3], 1, bias=bias is not None)
        point.weight.data = torch.from_numpy(np.ascontiguousarray(p.transpose(3, 2, 0, 1)))
        if bias is not None:
            point.bias.data = bias
        parts.append(point)
    act = _activation(c["activation"], 4, where)
    if act is not None:
        parts.append(act)
    return parts[0] if len(parts) == 1 else nn.Sequential(*parts)


def _layer_module(layer, blob, ranks):
    op = layer["op"]
    c = layer["config"]
    where = f"layer {layer['name']} ({op})"
    rank = ranks[layer["inputs"][0]] if layer["inputs"] else 4
    if op in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D"):
        return _conv(layer, blob, where)
    if op == "Dense":
        k = _weight(blob, layer, "kernel")  # in, out
        linear = nn.Linear(k.shape[0], k.shape[1], bias=c["useBias"])
        linear.weight.data = torch.from_numpy(np.ascontiguousarray(k.T))
        if c["useBias"]:
            linear.bias.data = torch.from_numpy(_weight(blob, layer, "bias").copy())
        act = _activation(c["activation"], 2, where)
        return linear if act is None else nn.Sequential(linear, act)
    if op == "BatchNormalization":
        mean = _weight(blob, layer, "moving_mean")
        n = mean.shape[0]
        bn = (nn.BatchNorm2d if rank == 4 else nn.BatchNorm1d)(n, eps=c["epsilon"])
        bn.running_mean.data = torch.from_numpy(mean.copy())
        bn.running_var.data = torch.from_numpy(_weight(blob, layer, "moving_variance").copy())
        bn.weight.data = torch.from_numpy(_weight(blob, layer, "gamma").copy()) if "gamma" in layer["weights"] else torch.ones(n)
        bn.bias.data = torch.from_numpy(_weight(blob, layer, "beta").copy()) if "beta" in layer["weights"] else torch.zeros(n)
        return bn.eval()
    if op == "Activation":
        return _activation(c["activation"], rank, where) or nn.Identity()
    if op == "ReLU":
        m = c["maxValue"]
        return nn.ReLU() if m is None else (nn.ReLU6() if m == 6 else nn.Hardtanh(0.0, float(m)))
    if op == "LeakyReLU":
        return nn.LeakyReLU(c["alpha"])
    if op == "Softmax":
        return nn.Softmax(dim=1)
    if op == "MaxPooling2D":
        pool = nn.MaxPool2d(tuple(c["pool"]), stride=tuple(c["strides"]))
        module, padding = _padded(pool, c["pads"], value=float("-inf"))
        pool.padding = padding
        return module
    if op == "AveragePooling2D":
        top, left, bottom, right = c["pads"]
        if top != bottom or left != right:
            raise UnsupportedLayer(f"{where}: average pooling with uneven 'same' padding")
        # TF averages over the pixels inside the image only.
        return nn.AvgPool2d(tuple(c["pool"]), stride=tuple(c["strides"]), padding=(top, left), count_include_pad=False)
    if op == "GlobalAveragePooling2D":
        return Lambda(lambda x: x.mean(dim=(2, 3)))
    if op == "GlobalMaxPooling2D":
        return Lambda(lambda x: x.amax(dim=(2, 3)))
    if op == "Flatten":
        # Back to NHWC order first: the next Dense layer's weights expect Keras's flatten order.
        return nn.Identity() if rank == 2 else Lambda(lambda x: x.permute(0, 2, 3, 1).flatten(1))
    if op == "ZeroPadding2D":
        top, left, bottom, right = c["pads"]
        return nn.ZeroPad2d((left, right, top, bottom))
    if op == "Rescaling":
        scale, offset = c["scale"], c["offset"]
        return Lambda(lambda x: x * scale + offset)
    if op in ("Add", "Multiply", "Maximum", "Minimum"):
        fn = {"Add": torch.add, "Multiply": torch.mul, "Maximum": torch.maximum, "Minimum": torch.minimum}[op]

        def combine(*xs):
            acc = xs[0]
            for other in xs[1:]:
                acc = fn(acc, other)
            return acc
        return Lambda(combine)
    if op == "Concatenate":
        axis = c["axis"]
        dim = [0, 2, 3, 1][axis] if rank == 4 else axis  # Keras's channel axis is torch's dim 1
        return Lambda(lambda *xs: torch.cat(xs, dim=dim))
    raise UnsupportedLayer(f"{where}: no translation")


class ExportedNet(nn.Module):
    """The exported graph, evaluated in its order. Input: NCHW float32."""

    def __init__(self, topology, blob):
        super().__init__()
        self.input_name = topology["input"]["name"]
        self.output_name = topology["output"]
        ranks = {self.input_name: 4}
        self.steps = []
        modules = []
        for layer in topology["layers"]:
            module = _layer_module(layer, blob, ranks)
            ranks[layer["name"]] = len(layer["shape"])
            modules.append(module)
            self.steps.append((layer["name"], module, tuple(layer["inputs"])))
        self.layers = nn.ModuleList(modules)
        # A chain (every layer takes the previous one's output) runs without the name table.
        names = [self.input_name] + [s[0] for s in self.steps]
        self.chain = all(ins == (names[i],) for i, (_, _, ins) in enumerate(self.steps)) and names[-1] == self.output_name

    def forward(self, x):
        if self.chain:
            for _, module, _ in self.steps:
                x = module(x)
            return x
        values = {self.input_name: x}
        for name, module, ins in self.steps:
            values[name] = module(*[values[i] for i in ins])
        return values[self.output_name]


def build(directory):
    """(network in eval mode, topology) of an export directory."""
    topology, blob = load_export(directory)
    return ExportedNet(topology, blob).eval(), topology


def probe_difference(net, topology, directory):
    """Largest absolute difference between this network's and TF.js's outputs on the exported probes."""
    p = topology["probes"]
    h, w, ch = topology["input"]["shape"]
    data = np.fromfile(os.path.join(directory, "probes.bin"), dtype="<f4")
    n, e, k = p["count"], p["inputElements"], p["outputUnits"]
    if data.size != n * (e + k):
        raise ValueError(f"{directory}/probes.bin holds {data.size} values, expected {n * (e + k)}")
    inputs = data[:n * e].reshape(n, h, w, ch)
    expected = data[n * e:].reshape(n, k)
    worst = 0.0
    with torch.inference_mode():
        for i in range(n):
            x = torch.from_numpy(inputs[i:i + 1].copy()).permute(0, 3, 1, 2).contiguous()
            got = net(x).numpy()[0]
            d = float(np.max(np.abs(got - expected[i])))
            worst = d if not np.isnan(d) and d > worst else (float("inf") if np.isnan(d) else worst)
    return worst
