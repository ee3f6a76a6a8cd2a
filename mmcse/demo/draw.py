"""Tiny numpy rasteriser for the procedural demo: filled discs, ellipses, boxes, thick lines, polygons.

Every function paints in place on a float32 canvas ``img`` (H, W, 3) with values in [0, 1], with
coordinates in pixels (float), and only touches the bounding box of the shape, so a frame with a few
sprites costs well under a millisecond at 160x120.
"""

from __future__ import annotations

import numpy as np


def _box(img: np.ndarray, x0: float, y0: float, x1: float, y1: float):
    """Integer slices of the canvas covering [x0, x1] x [y0, y1] and the pixel-centre grids there."""
    h, w = img.shape[:2]
    i0, i1 = max(int(np.floor(y0)), 0), min(int(np.ceil(y1)) + 1, h)
    j0, j1 = max(int(np.floor(x0)), 0), min(int(np.ceil(x1)) + 1, w)
    if i0 >= i1 or j0 >= j1:
        return None
    yy = np.arange(i0, i1, dtype=np.float32)[:, None] + 0.5
    xx = np.arange(j0, j1, dtype=np.float32)[None, :] + 0.5
    return (slice(i0, i1), slice(j0, j1)), yy, xx


def _paint(img: np.ndarray, sl, mask: np.ndarray, color, alpha: float = 1.0) -> None:
    if not mask.any():
        return
    region = img[sl]
    a = mask.astype(np.float32)[..., None] * alpha  # (h, w, 1)
    region *= 1.0 - a
    region += a * np.asarray(color, np.float32)


def ellipse(img, cx, cy, rx, ry, color, angle: float = 0.0, alpha: float = 1.0) -> None:
    """Filled ellipse with radii (rx, ry), rotated by ``angle`` radians."""
    r = max(rx, ry)
    box = _box(img, cx - r, cy - r, cx + r, cy + r)
    if box is None:
        return
    sl, yy, xx = box
    dx, dy = xx - cx, yy - cy
    if angle:
        c, s = np.cos(angle), np.sin(angle)
        dx, dy = c * dx + s * dy, -s * dx + c * dy
    mask = (dx / max(rx, 0.5)) ** 2 + (dy / max(ry, 0.5)) ** 2 <= 1.0
    _paint(img, sl, mask, color, alpha)


def disc(img, cx, cy, r, color, alpha: float = 1.0) -> None:
    ellipse(img, cx, cy, r, r, color, 0.0, alpha)


def ring(img, cx, cy, r_out, r_in, color, alpha: float = 1.0) -> None:
    box = _box(img, cx - r_out, cy - r_out, cx + r_out, cy + r_out)
    if box is None:
        return
    sl, yy, xx = box
    d2 = (xx - cx) ** 2 + (yy - cy) ** 2
    _paint(img, sl, (d2 <= r_out**2) & (d2 >= r_in**2), color, alpha)


def rect(img, x0, y0, x1, y1, color, alpha: float = 1.0) -> None:
    """Axis-aligned filled box."""
    h, w = img.shape[:2]
    i0, i1 = max(int(round(y0)), 0), min(int(round(y1)), h)
    j0, j1 = max(int(round(x0)), 0), min(int(round(x1)), w)
    if i0 < i1 and j0 < j1:
        img[i0:i1, j0:j1] = (1 - alpha) * img[i0:i1, j0:j1] + alpha * np.asarray(color, np.float32)


def rotated_rect(img, cx, cy, half_w, half_h, angle, color, alpha: float = 1.0) -> None:
    r = float(np.hypot(half_w, half_h))
    box = _box(img, cx - r, cy - r, cx + r, cy + r)
    if box is None:
        return
    sl, yy, xx = box
    c, s = np.cos(angle), np.sin(angle)
    dx, dy = xx - cx, yy - cy
    u, v = c * dx + s * dy, -s * dx + c * dy
    _paint(img, sl, (np.abs(u) <= half_w) & (np.abs(v) <= half_h), color, alpha)


def line(img, x0, y0, x1, y1, width, color, alpha: float = 1.0) -> None:
    """Thick segment from (x0, y0) to (x1, y1) with round caps."""
    hw = width / 2
    box = _box(img, min(x0, x1) - hw, min(y0, y1) - hw, max(x0, x1) + hw, max(y0, y1) + hw)
    if box is None:
        return
    sl, yy, xx = box
    vx, vy = x1 - x0, y1 - y0
    L2 = vx * vx + vy * vy + 1e-6
    t = np.clip(((xx - x0) * vx + (yy - y0) * vy) / L2, 0.0, 1.0)
    d2 = (xx - x0 - t * vx) ** 2 + (yy - y0 - t * vy) ** 2
    _paint(img, sl, d2 <= hw * hw, color, alpha)


def polygon(img, points, color, alpha: float = 1.0) -> None:
    """Filled convex polygon (points in either winding order)."""
    pts = np.asarray(points, np.float32)
    box = _box(img, pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max())
    if box is None:
        return
    sl, yy, xx = box
    inside_pos = np.ones(np.broadcast_shapes(yy.shape, xx.shape), bool)
    inside_neg = inside_pos.copy()
    for (ax, ay), (bx, by) in zip(pts, np.roll(pts, -1, axis=0)):
        cross = (bx - ax) * (yy - ay) - (by - ay) * (xx - ax)
        inside_pos &= cross >= 0
        inside_neg &= cross <= 0
    _paint(img, sl, inside_pos | inside_neg, color, alpha)
