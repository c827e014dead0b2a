"""edgesight's preprocessing contract (src/vision/preprocess.ts) in OpenCV + NumPy: region of
interest, centre crop, area shrink (by whole factors first, then to the input size, as edgesight
does, so both sides feed the network the same pixels), grey or colour order, inversion, contrast
stretch, value range. Returns (1, height, width, channels) float32."""
import math

import cv2
import numpy as np


def _round(v):
    return int(math.floor(v + 0.5))  # JavaScript's Math.round


def whole_factor(size, target):
    for k in range(size // (4 * target), 1, -1):
        if size % k == 0:
            return k
    return 1


class Preprocessor:
    def __init__(self, contract):
        self.c = contract
        self.w, self.h, self.ch = contract["width"], contract["height"], contract["channels"]
        bw, bh = max(1, self.w // 8), max(1, self.h // 8)
        ring = np.zeros((self.h, self.w), dtype=bool)
        ring[:bh, :] = ring[self.h - bh:, :] = True
        ring[:, :bw] = ring[:, self.w - bw:] = True
        self.ring = ring
        self.out = np.empty((1, self.h, self.w, self.ch), dtype=np.float32)

    def region(self, frame):
        c = self.c
        rows, cols = frame.shape[:2]
        region = frame
        roi = c.get("roi")
        if roi:
            x, y = _round(roi["x"] * cols), _round(roi["y"] * rows)
            w = max(1, min(cols - x, _round(roi["width"] * cols)))
            h = max(1, min(rows - y, _round(roi["height"] * rows)))
            region = region[y:y + h, x:x + w]
        if c["resizeMode"] == "center-crop":
            rows, cols = region.shape[:2]
            target, current = self.w / self.h, cols / rows
            if abs(current - target) > 1e-3:
                w = _round(rows * target) if current > target else cols
                h = rows if current > target else _round(cols / target)
                x0, y0 = (cols - w) >> 1, (rows - h) >> 1
                region = region[y0:y0 + h, x0:x0 + w]
        return region

    def shrink(self, frame):
        region = self.region(frame)
        rows, cols = region.shape[:2]
        if rows != self.h or cols != self.w:
            shrinking = rows > self.h or cols > self.w
            kx = whole_factor(cols, self.w) if shrinking else 1
            ky = whole_factor(rows, self.h) if shrinking else 1
            if kx < 2 or ky < 2:
                region = cv2.resize(region, (self.w, self.h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
            else:
                reduced = cv2.resize(region, (cols // kx, rows // ky), interpolation=cv2.INTER_AREA)
                region = cv2.resize(reduced, (self.w, self.h), interpolation=cv2.INTER_AREA)
        if self.ch == 1:
            return cv2.cvtColor(region, cv2.COLOR_BGR2GRAY) if region.ndim == 3 else region
        return cv2.cvtColor(region, cv2.COLOR_BGR2RGB) if self.c["colorOrder"] == "rgb" else region

    def __call__(self, frame):
        c = self.c
        small = self.shrink(frame)
        pixels = small.astype(np.float64)
        invert = c["invert"]
        if invert == "auto" or c["contrast"] == "stretch":
            border = float(pixels[self.ring].mean()) if self.ch == 1 else float(pixels[self.ring, :].mean())
        if invert == "auto":
            invert = border > 127.5
        if invert:
            pixels = 255.0 - pixels
        low, high = 0.0, 255.0
        if c["contrast"] == "stretch":
            low = 255.0 - border if invert else border
            high = float(pixels.max())
            if high - low < 24:  # a flat image stays flat instead of amplifying noise
                low, high = 0.0, 255.0
            pixels = np.clip(pixels, low, high)
        r0, r1 = c["range"]
        self.out.reshape(-1)[:] = (r0 + (pixels - low) * ((r1 - r0) / (high - low))).reshape(-1)
        return self.out
