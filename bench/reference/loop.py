#!/usr/bin/python3
"""The reference webcam loop of edgesight's benchmark (docs/benchmarks.md): what a course's loop
does, in Python, for the network edgesight exported. Per frame: cv2.VideoCapture read,
preprocessing as the model's metadata says, the network in PyTorch, the top label drawn with
cv2.putText, cv2.imencode JPEG. Every frame, as a course loop shows every frame.

usage: loop.py EXPORT_DIR CLIP [--seconds 5] [--warmup 2] [--threads default|cores]
                                [--jpeg-quality 80] [--frame-probe FILE] [--check-only]

Before timing it checks the network against TF.js's outputs on the exported probes and exits 3
when they differ by more than 1e-4. The last line is RESULT followed by JSON.
"""
import argparse
import json
import os
import sys
import time

import cv2
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from net import build, probe_difference  # noqa: E402
from preprocess import Preprocessor  # noqa: E402

MAX_DIFFERENCE = 1e-4


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("export_dir")
    ap.add_argument("clip")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--threads", choices=["default", "cores"], default="default")
    ap.add_argument("--jpeg-quality", type=int, default=80)
    ap.add_argument("--frame-probe", help="edgesight's input values (float32) for the clip's first frame, to compare preprocessing")
    ap.add_argument("--check-only", action="store_true")
    args = ap.parse_args()

    default_threads = torch.get_num_threads()
    cores = len(os.sched_getaffinity(0))
    if args.threads == "cores":
        torch.set_num_threads(cores)
    net, topology = build(args.export_dir)
    difference = probe_difference(net, topology, args.export_dir)
    info = {"model": topology["name"], "maxDifference": difference, "torchDefaultThreads": default_threads,
            "torchThreads": torch.get_num_threads(), "cvThreads": cv2.getNumThreads(), "cores": cores,
            "torch": torch.__version__, "opencv": cv2.__version__}
    if not difference <= MAX_DIFFERENCE:
        print("RESULT " + json.dumps({**info, "error": f"outputs differ from TF.js by {difference:.2e} (limit {MAX_DIFFERENCE})"}))
        sys.exit(3)
    if args.check_only and not args.frame_probe:
        print("RESULT " + json.dumps(info))
        return
    pre = Preprocessor(topology["preprocess"])
    cap = cv2.VideoCapture(args.clip)
    if not cap.isOpened():
        print("RESULT " + json.dumps({**info, "error": f"cannot open {args.clip}"}))
        sys.exit(2)
    if args.frame_probe:
        ok, frame = cap.read()
        theirs = np.fromfile(args.frame_probe, dtype="<f4")
        ours = pre(frame).reshape(-1)
        info["preprocessDifference"] = float(np.max(np.abs(ours - theirs))) if ok and ours.size == theirs.size else None
        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
    if args.check_only:
        print("RESULT " + json.dumps(info))
        return
    result = run_loop(cap, pre, net, topology["labels"], args)
    print("RESULT " + json.dumps({**info, **result}))


def run_loop(cap, pre, net, labels, args):
    quality = [cv2.IMWRITE_JPEG_QUALITY, args.jpeg_quality]
    stages = dict(read=0.0, preprocess=0.0, infer=0.0, overlay=0.0, encode=0.0)
    frames = 0
    started = time.perf_counter()
    window_start = started + args.warmup
    window_end = window_start + args.seconds
    measuring = False
    cpu_start = 0.0
    with torch.inference_mode():
        while True:
            a = time.perf_counter()
            if not measuring and a >= window_start:
                measuring, frames, cpu_start, window_start = True, 0, time.process_time(), a
                stages = dict.fromkeys(stages, 0.0)
            if measuring and a >= window_end:
                break
            ok, frame = cap.read()
            if not ok:  # the end of the clip: round again, as edgesight's file.loop does
                cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, frame = cap.read()
                if not ok:
                    raise RuntimeError(f"cannot read {args.clip}")
            b = time.perf_counter()
            values = pre(frame)
            x = torch.from_numpy(values).permute(0, 3, 1, 2).contiguous()
            c = time.perf_counter()
            scores = net(x)[0].numpy()
            top = int(scores.argmax())
            d = time.perf_counter()
            cv2.putText(frame, f"{labels[top]} {scores[top]:.2f}", (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 255, 0), 2)
            e = time.perf_counter()
            ok, jpeg = cv2.imencode(".jpg", frame, quality)
            f = time.perf_counter()
            if not ok:
                raise RuntimeError("imencode failed")
            stages["read"] += b - a
            stages["preprocess"] += c - b
            stages["infer"] += d - c
            stages["overlay"] += e - d
            stages["encode"] += f - e
            frames += 1
    elapsed = time.perf_counter() - window_start
    cpu = time.process_time() - cpu_start
    n = max(frames, 1)
    return {"frames": frames, "seconds": elapsed, "fps": frames / elapsed, "cpuMsPerFrame": cpu * 1000 / n,
            "stagesMs": {k: v * 1000 / n for k, v in stages.items()}}


if __name__ == "__main__":
    main()
