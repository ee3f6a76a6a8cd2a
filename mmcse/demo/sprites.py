"""Visual signatures of the 25 LLP classes for the procedural demo: drawn shapes and their motion.

``SPRITES[class_index](img, t, p)`` paints one instance at time ``t`` (seconds) on ``img`` (H, W, 3)
float32. ``p`` holds the instance's fixed parameters (``sprite_params``): its anchor (x, y) in pixels,
its size ``s`` in pixels, a colour jitter, a phase and a speed. No text is ever drawn: each class is
recognisable only by its shapes, colours and motion (a car is a box with wheels driving sideways, a
fire alarm a red flashing disc, a helicopter has rotating blades, ...).
"""

from __future__ import annotations

import math

import numpy as np

from mmcse.demo import draw

TAU = 2 * math.pi
SKIN = (0.93, 0.76, 0.62)
DARK = (0.08, 0.08, 0.08)
WHITE = (0.97, 0.97, 0.97)
WOOD = (0.62, 0.36, 0.16)


def sprite_params(rng: np.random.Generator, width: int, height: int, slot: tuple[float, float]) -> dict:
    """Fixed parameters of one sprite instance: anchor near ``slot`` (fractions of the frame)."""
    return {
        "x": (slot[0] + rng.uniform(-0.06, 0.06)) * width,
        "y": (slot[1] + rng.uniform(-0.05, 0.05)) * height,
        "s": rng.uniform(0.17, 0.23) * height,
        "w": width,
        "h": height,
        "phase": rng.uniform(0, TAU),
        "speed": rng.uniform(0.8, 1.25),
        "dir": 1.0 if rng.random() < 0.5 else -1.0,
        "tint": rng.uniform(-0.08, 0.08, size=3).astype(np.float32),
        "seed": int(rng.integers(1 << 30)),
    }


def _c(color, p) -> np.ndarray:
    return np.clip(np.asarray(color, np.float32) + p["tint"], 0, 1)


def _drive_x(t, p, speed_frac):
    """x position of a sprite that drives across the frame and wraps around."""
    span = p["w"] + 1.6 * p["s"]  # wraps while still half on screen, so it is (nearly) always in view
    x0 = p["x"] + p["dir"] * speed_frac * p["w"] * p["speed"] * t
    return (x0 + 0.8 * p["s"]) % span - 0.8 * p["s"]


def _face(img, x, y, s, p, mouth_open, mouth_wide=1.0, frown=False, cheeks=False):
    draw.ellipse(img, x, y, 0.62 * s, 0.78 * s, _c(SKIN, p))
    draw.ellipse(img, x, y - 0.62 * s, 0.6 * s, 0.25 * s, _c((0.25, 0.15, 0.08), p))  # hair
    for side in (-1, 1):
        draw.disc(img, x + side * 0.24 * s, y - 0.15 * s, 0.08 * s, DARK)
        if cheeks:
            draw.disc(img, x + side * 0.38 * s, y + 0.15 * s, 0.11 * s, (0.95, 0.5, 0.5))
    my = y + 0.38 * s
    if frown:
        draw.line(img, x - 0.2 * s, my + 0.06 * s, x, my - 0.04 * s, 0.07 * s, DARK)
        draw.line(img, x, my - 0.04 * s, x + 0.2 * s, my + 0.06 * s, 0.07 * s, DARK)
    draw.ellipse(img, x, my, 0.22 * s * mouth_wide, 0.02 * s + 0.18 * s * mouth_open, (0.45, 0.05, 0.08))


def speech(img, t, p):  # a talking head, mouth flapping at syllable rate
    open_ = 0.5 + 0.5 * math.sin(TAU * 4.0 * p["speed"] * t + p["phase"]) * math.sin(TAU * 0.7 * t + 1)
    _face(img, p["x"], p["y"], p["s"], p, max(open_, 0.05))
    draw.rect(
        img,
        p["x"] - 0.5 * p["s"],
        p["y"] + 0.75 * p["s"],
        p["x"] + 0.5 * p["s"],
        p["y"] + 1.6 * p["s"],
        _c((0.2, 0.3, 0.6), p),
    )


def car(img, t, p):  # a box on two wheels driving sideways
    s, x, y = p["s"], _drive_x(t, p, 0.35), p["y"]
    draw.rect(img, x - 1.1 * s, y - 0.35 * s, x + 1.1 * s, y + 0.25 * s, _c((0.8, 0.1, 0.1), p))
    draw.rect(img, x - 0.6 * s, y - 0.75 * s, x + 0.5 * s, y - 0.35 * s, _c((0.75, 0.12, 0.12), p))
    draw.rect(img, x - 0.5 * s, y - 0.68 * s, x + 0.4 * s, y - 0.4 * s, (0.6, 0.8, 0.95))
    for wx in (-0.65, 0.65):
        draw.disc(img, x + wx * s, y + 0.3 * s, 0.28 * s, DARK)
        ang = -p["dir"] * TAU * 2 * t
        draw.line(
            img,
            x + wx * s,
            y + 0.3 * s,
            x + wx * s + 0.2 * s * math.cos(ang),
            y + 0.3 * s + 0.2 * s * math.sin(ang),
            0.06 * s,
            (0.6, 0.6, 0.6),
        )


def cheering(img, t, p):  # a crowd of heads with arms waving
    s = p["s"]
    for k in range(6):
        x = p["x"] + (k - 2.5) * 0.55 * s
        bob = 0.15 * s * math.sin(TAU * 2.2 * t + k * 1.3 + p["phase"])
        y = p["y"] + bob
        col = _c((0.3 + 0.1 * (k % 3), 0.3, 0.7 - 0.1 * (k % 2)), p)
        draw.rect(img, x - 0.2 * s, y, x + 0.2 * s, y + 0.8 * s, col)
        draw.disc(img, x, y - 0.18 * s, 0.17 * s, _c(SKIN, p))
        arm = 0.5 * s * (0.6 + 0.4 * math.sin(TAU * 2.2 * t + k))
        draw.line(img, x - 0.18 * s, y + 0.1 * s, x - 0.35 * s, y - arm, 0.08 * s, _c(SKIN, p))
        draw.line(img, x + 0.18 * s, y + 0.1 * s, x + 0.35 * s, y - arm, 0.08 * s, _c(SKIN, p))


def dog(img, t, p):  # a brown blob that hops along
    s = p["s"]
    x = p["x"] + p["dir"] * 0.25 * p["w"] * math.sin(TAU * 0.15 * p["speed"] * t + p["phase"])
    y = p["y"] - 0.45 * s * abs(math.sin(TAU * 1.5 * t + p["phase"]))
    brown = _c((0.55, 0.33, 0.12), p)
    for lx in (-0.5, -0.25, 0.25, 0.5):
        draw.line(img, x + lx * s, y + 0.2 * s, x + lx * s, y + 0.65 * s, 0.13 * s, brown)
    draw.ellipse(img, x, y, 0.75 * s, 0.38 * s, brown)
    hx = x + p["dir"] * 0.75 * s
    draw.disc(img, hx, y - 0.35 * s, 0.3 * s, brown)
    draw.ellipse(img, hx - p["dir"] * 0.12 * s, y - 0.42 * s, 0.1 * s, 0.22 * s, _c((0.35, 0.2, 0.07), p))
    draw.disc(img, hx + p["dir"] * 0.12 * s, y - 0.4 * s, 0.05 * s, DARK)
    draw.line(img, x - p["dir"] * 0.7 * s, y - 0.1 * s, x - p["dir"] * 1.0 * s, y - 0.45 * s, 0.09 * s, brown)


def cat(img, t, p):  # a grey sitting cat with pointed ears and a swaying tail
    s, x, y = p["s"], p["x"], p["y"]
    grey = _c((0.55, 0.55, 0.58), p)
    sway = 0.5 * math.sin(TAU * 0.8 * t + p["phase"])
    draw.line(img, x + 0.45 * s, y + 0.5 * s, x + 0.9 * s + 0.3 * s * sway, y - 0.2 * s, 0.1 * s, grey)
    draw.ellipse(img, x, y + 0.3 * s, 0.5 * s, 0.55 * s, grey)
    hy = y - 0.45 * s
    draw.disc(img, x, hy, 0.35 * s, grey)
    for side in (-1, 1):
        draw.polygon(
            img,
            [
                (x + side * 0.32 * s, hy - 0.1 * s),
                (x + side * 0.1 * s, hy - 0.28 * s),
                (x + side * 0.3 * s, hy - 0.6 * s),
            ],
            grey,
        )
        draw.ellipse(img, x + side * 0.13 * s, hy - 0.03 * s, 0.07 * s, 0.1 * s, (0.3, 0.75, 0.2))


def frying(img, t, p):  # a pan with sizzling bubbles popping
    s, x, y = p["s"], p["x"], p["y"]
    draw.line(img, x + 0.9 * s, y, x + 1.9 * s, y - 0.1 * s, 0.15 * s, DARK)
    draw.ellipse(img, x, y, 1.0 * s, 0.45 * s, (0.15, 0.15, 0.17))
    draw.ellipse(img, x, y, 0.85 * s, 0.35 * s, (0.75, 0.55, 0.2))
    rng = np.random.default_rng([p["seed"], int(t * 16)])
    for _ in range(7):
        a, r = rng.uniform(0, TAU), rng.uniform(0, 0.8)
        draw.disc(
            img, x + r * 0.8 * s * math.cos(a), y + r * 0.3 * s * math.sin(a), 0.07 * s, (1.0, 0.95, 0.6)
        )


def basketball(img, t, p):  # an orange ball bouncing on the floor
    s = p["s"]
    ph = (t * 2.0 * p["speed"] + p["phase"] / TAU) % 1.0
    y = p["y"] + 0.6 * s - 1.6 * s * 4 * ph * (1 - ph)
    x = p["x"] + 0.3 * s * math.sin(TAU * 0.2 * t)
    draw.rect(img, p["x"] - 1.2 * s, p["y"] + 1.0 * s, p["x"] + 1.2 * s, p["y"] + 1.1 * s, (0.5, 0.35, 0.2))
    draw.disc(img, x, y, 0.38 * s, _c((0.95, 0.45, 0.05), p))
    draw.line(img, x - 0.38 * s, y, x + 0.38 * s, y, 0.05 * s, DARK)
    draw.line(img, x, y - 0.38 * s, x, y + 0.38 * s, 0.05 * s, DARK)


def fire_alarm(img, t, p):  # a red disc flashing twice a second
    s, x, y = p["s"], p["x"], p["y"] - 0.4 * p["s"]
    on = (t * 2.0 + p["phase"] / TAU) % 1.0 < 0.5
    draw.disc(img, x, y, 0.6 * s, (0.9, 0.9, 0.88))
    draw.disc(img, x, y, 0.48 * s, (1.0, 0.1, 0.05) if on else (0.45, 0.05, 0.03))
    if on:
        draw.ring(img, x, y, 0.95 * s, 0.8 * s, (1.0, 0.3, 0.2), alpha=0.6)


def chainsaw(img, t, p):  # an orange body with a long bar, vibrating hard
    s = p["s"]
    rng = np.random.default_rng([p["seed"], int(t * 16)])
    x, y = p["x"] + rng.normal(0, 0.06 * s), p["y"] + rng.normal(0, 0.06 * s)
    draw.rect(img, x - 1.1 * s, y - 0.35 * s, x - 0.2 * s, y + 0.35 * s, _c((0.95, 0.5, 0.05), p))
    draw.rect(img, x - 0.2 * s, y - 0.15 * s, x + 1.2 * s, y + 0.12 * s, (0.7, 0.7, 0.72))
    for k in range(8):  # moving chain teeth
        tx = x - 0.2 * s + ((k / 8 + 3 * t) % 1.0) * 1.4 * s
        draw.disc(img, tx, y - 0.16 * s, 0.05 * s, DARK)


def _bow(img, x, y, s, t, rate, length, p):
    d = 0.5 * length * s * math.sin(TAU * rate * t + p["phase"])
    draw.line(
        img,
        x - 0.7 * length * s + d,
        y - 0.1 * s,
        x + 0.7 * length * s + d,
        y + 0.1 * s,
        0.05 * s,
        (0.85, 0.8, 0.6),
    )


def cello(img, t, p):  # a big upright brown body, slow bowing
    s, x, y = p["s"], p["x"], p["y"]
    draw.line(img, x, y - 1.6 * s, x, y + 1.2 * s, 0.12 * s, DARK)
    draw.ellipse(img, x, y + 0.55 * s, 0.65 * s, 0.55 * s, _c(WOOD, p))
    draw.ellipse(img, x, y - 0.25 * s, 0.5 * s, 0.45 * s, _c(WOOD, p))
    draw.line(img, x, y - 1.5 * s, x, y + 0.8 * s, 0.05 * s, (0.9, 0.9, 0.8))
    _bow(img, x, y + 0.3 * s, s, t, 0.5, 1.6, p)


def banjo(img, t, p):  # a round white drum with a long neck, fast picking hand
    s, x, y = p["s"], p["x"], p["y"]
    draw.line(img, x, y, x + 1.8 * s, y - 0.9 * s, 0.15 * s, _c(WOOD, p))
    draw.disc(img, x, y, 0.6 * s, (0.55, 0.55, 0.55))
    draw.disc(img, x, y, 0.5 * s, (0.96, 0.94, 0.86))
    dy = 0.2 * s * math.sin(TAU * 6 * t)
    draw.disc(img, x - 0.1 * s, y + dy, 0.13 * s, _c(SKIN, p))


def singing(img, t, p):  # a face with a round, wide-open mouth and a microphone
    open_ = 0.7 + 0.3 * math.sin(TAU * 0.5 * t + p["phase"])
    _face(img, p["x"], p["y"], p["s"], p, open_, mouth_wide=0.7)
    s = p["s"]
    draw.line(img, p["x"] + 0.3 * s, p["y"] + 0.7 * s, p["x"] + 0.5 * s, p["y"] + 1.6 * s, 0.08 * s, DARK)
    draw.disc(img, p["x"] + 0.28 * s, p["y"] + 0.62 * s, 0.14 * s, (0.5, 0.5, 0.55))


def rooster(img, t, p):  # a white bird with a red comb, pecking
    s, x, y = p["s"], p["x"], p["y"]
    peck = max(math.sin(TAU * 0.9 * t + p["phase"]), 0.0)
    draw.line(img, x - 0.15 * s, y + 0.3 * s, x - 0.2 * s, y + 0.9 * s, 0.06 * s, (0.9, 0.7, 0.1))
    draw.line(img, x + 0.15 * s, y + 0.3 * s, x + 0.2 * s, y + 0.9 * s, 0.06 * s, (0.9, 0.7, 0.1))
    draw.ellipse(img, x, y, 0.6 * s, 0.42 * s, _c(WHITE, p))
    draw.polygon(
        img,
        [(x - 0.5 * s, y - 0.1 * s), (x - 1.0 * s, y - 0.7 * s), (x - 0.7 * s, y + 0.2 * s)],
        (0.1, 0.35, 0.2),
    )
    hx, hy = x + 0.55 * s + 0.25 * s * peck, y - 0.5 * s + 0.55 * s * peck
    draw.disc(img, hx, hy, 0.22 * s, _c(WHITE, p))
    for k in range(3):
        draw.disc(img, hx - 0.12 * s + k * 0.1 * s, hy - 0.22 * s, 0.08 * s, (0.9, 0.05, 0.05))
    draw.polygon(
        img,
        [(hx + 0.18 * s, hy - 0.05 * s), (hx + 0.4 * s, hy), (hx + 0.18 * s, hy + 0.08 * s)],
        (0.95, 0.7, 0.1),
    )


def violin(img, t, p):  # a small orange-brown body held diagonally, fast bowing
    s, x, y = p["s"], p["x"], p["y"]
    draw.ellipse(img, x, y, 0.6 * s, 0.3 * s, _c((0.8, 0.42, 0.1), p), angle=-0.5)
    draw.line(img, x + 0.4 * s, y - 0.25 * s, x + 1.2 * s, y - 0.7 * s, 0.08 * s, DARK)
    d = 0.5 * s * math.sin(TAU * 1.6 * t + p["phase"])
    draw.line(
        img,
        x - 0.5 * s + d,
        y - 0.7 * s + 0.3 * d,
        x + 0.2 * s + d,
        y + 0.6 * s + 0.3 * d,
        0.04 * s,
        (0.9, 0.85, 0.6),
    )


def vacuum(img, t, p):  # a canister with a hose, its head sweeping back and forth on the floor
    s, x, y = p["s"], p["x"], p["y"]
    draw.ellipse(img, x - 0.6 * s, y + 0.4 * s, 0.45 * s, 0.35 * s, _c((0.2, 0.5, 0.85), p))
    hx = x + 0.7 * s + 0.6 * s * math.sin(TAU * 0.7 * t + p["phase"])
    draw.line(img, x - 0.3 * s, y + 0.3 * s, hx, y - 0.7 * s, 0.08 * s, (0.3, 0.3, 0.3))
    draw.line(img, hx, y - 0.7 * s, hx, y + 0.65 * s, 0.07 * s, (0.6, 0.6, 0.6))
    draw.rect(img, hx - 0.35 * s, y + 0.6 * s, hx + 0.35 * s, y + 0.78 * s, DARK)


def baby_laughter(img, t, p):  # a big pale head with rosy cheeks and a wide smile, bouncing
    y = p["y"] - 0.12 * p["s"] * abs(math.sin(TAU * 2.5 * t + p["phase"]))
    _face(
        img,
        p["x"],
        y,
        1.15 * p["s"],
        p,
        0.55 + 0.35 * abs(math.sin(TAU * 5 * t)),
        mouth_wide=1.3,
        cheeks=True,
    )


def accordion(img, t, p):  # a pleated box that expands and contracts
    s, x, y = p["s"], p["x"], p["y"]
    half = (0.6 + 0.35 * math.sin(TAU * 0.4 * t + p["phase"])) * s
    draw.rect(img, x - half - 0.35 * s, y - 0.6 * s, x - half, y + 0.6 * s, _c((0.8, 0.1, 0.15), p))
    draw.rect(img, x + half, y - 0.6 * s, x + half + 0.35 * s, y + 0.6 * s, _c((0.8, 0.1, 0.15), p))
    n = 7
    for k in range(n):
        x0 = x - half + 2 * half * k / n
        draw.rect(img, x0, y - 0.55 * s, x0 + half / n, y + 0.55 * s, (0.1, 0.1, 0.1))
        draw.rect(img, x0 + half / n, y - 0.55 * s, x0 + 2 * half / n, y + 0.55 * s, (0.9, 0.9, 0.85))
    for k in range(4):
        draw.disc(img, x + half + 0.17 * s, y - 0.4 * s + k * 0.27 * s, 0.06 * s, WHITE)


def lawn_mower(img, t, p):  # a red box with a handle pushed across, grass stripes under it
    s, x, y = p["s"], _drive_x(t, p, 0.12), p["y"]
    draw.rect(img, 0, y + 0.3 * s, p["w"], y + 0.9 * s, (0.2, 0.6, 0.15))
    for k in range(0, int(p["w"]), 12):
        draw.rect(img, k, y + 0.3 * s, k + 6, y + 0.9 * s, (0.3, 0.72, 0.2))
    draw.rect(img, x - 0.6 * s, y - 0.1 * s, x + 0.6 * s, y + 0.35 * s, _c((0.85, 0.15, 0.1), p))
    draw.line(img, x - p["dir"] * 0.5 * s, y - 0.1 * s, x - p["dir"] * 1.3 * s, y - 1.0 * s, 0.08 * s, DARK)
    for wx in (-0.45, 0.45):
        draw.disc(img, x + wx * s, y + 0.4 * s, 0.18 * s, DARK)


def motorcycle(img, t, p):  # two wheels, a frame and a rider, driving fast
    s, x, y = p["s"], _drive_x(t, p, 0.55), p["y"]
    for wx in (-0.7, 0.7):
        draw.ring(img, x + wx * s, y + 0.35 * s, 0.35 * s, 0.2 * s, DARK)
    draw.line(img, x - 0.7 * s, y + 0.35 * s, x + 0.7 * s, y + 0.35 * s, 0.1 * s, (0.4, 0.4, 0.45))
    draw.polygon(
        img,
        [(x - 0.4 * s, y), (x + 0.5 * s, y), (x + 0.3 * s, y + 0.3 * s), (x - 0.3 * s, y + 0.3 * s)],
        _c((0.1, 0.2, 0.8), p),
    )
    draw.line(img, x - 0.1 * s, y, x, y - 0.6 * s, 0.2 * s, (0.15, 0.15, 0.15))
    draw.disc(img, x + 0.05 * s, y - 0.75 * s, 0.18 * s, (0.9, 0.85, 0.1))


def helicopter(img, t, p):  # a body, a tail and fast rotating blades, hovering
    s = p["s"]
    x = p["x"] + 0.3 * s * math.sin(TAU * 0.2 * t + p["phase"])
    y = p["y"] + 0.15 * s * math.sin(TAU * 0.5 * t)
    body = _c((0.25, 0.4, 0.25), p)
    draw.line(img, x, y, x - p["dir"] * 1.5 * s, y - 0.2 * s, 0.15 * s, body)
    draw.ellipse(img, x, y, 0.7 * s, 0.4 * s, body)
    draw.ellipse(img, x + p["dir"] * 0.35 * s, y - 0.05 * s, 0.25 * s, 0.2 * s, (0.6, 0.8, 0.95))
    draw.line(img, x, y - 0.4 * s, x, y - 0.6 * s, 0.08 * s, DARK)
    ang = TAU * 3.1 * t
    for k in range(2):
        draw.rotated_rect(
            img,
            x,
            y - 0.62 * s,
            1.3 * s * abs(math.cos(ang + k * math.pi / 2)) + 0.1 * s,
            0.05 * s,
            0.0,
            DARK,
        )


def acoustic_guitar(img, t, p):  # a tan figure-eight body with a sound hole, strumming hand
    s, x, y = p["s"], p["x"], p["y"]
    tan = _c((0.85, 0.65, 0.35), p)
    draw.line(img, x, y, x + 1.8 * s, y - 0.5 * s, 0.14 * s, _c((0.35, 0.2, 0.1), p))
    draw.disc(img, x - 0.35 * s, y + 0.05 * s, 0.55 * s, tan)
    draw.disc(img, x + 0.3 * s, y - 0.05 * s, 0.42 * s, tan)
    draw.disc(img, x + 0.1 * s, y, 0.16 * s, DARK)
    dy = 0.3 * s * math.sin(TAU * 2.0 * t + p["phase"])
    draw.disc(img, x + 0.05 * s, y + dy, 0.14 * s, _c(SKIN, p))


def telephone(img, t, p):  # a black desk phone with a dial that jumps while ringing
    s = p["s"]
    ringing = (t + p["phase"] / TAU) % 2.0 < 1.0
    jx = 0.06 * s * math.sin(TAU * 18 * t) if ringing else 0.0
    x, y = p["x"] + jx, p["y"]
    draw.polygon(
        img,
        [
            (x - 0.8 * s, y + 0.5 * s),
            (x + 0.8 * s, y + 0.5 * s),
            (x + 0.6 * s, y - 0.2 * s),
            (x - 0.6 * s, y - 0.2 * s),
        ],
        (0.08, 0.08, 0.1),
    )
    lift = 0.1 * s if ringing else 0.0
    draw.rect(img, x - 0.9 * s, y - 0.5 * s - lift, x + 0.9 * s, y - 0.25 * s - lift, (0.12, 0.12, 0.14))
    draw.disc(img, x, y + 0.15 * s, 0.28 * s, WHITE)
    draw.disc(img, x, y + 0.15 * s, 0.1 * s, (0.7, 0.1, 0.1))


def baby_cry(img, t, p):  # a pale head with a frown and tears falling
    s, x, y = 1.1 * p["s"], p["x"], p["y"]
    _face(img, x, y, s, p, 0.4 + 0.3 * abs(math.sin(TAU * 1.2 * t)), mouth_wide=0.9, frown=True)
    for side in (-1, 1):
        ph = (t * 1.5 + (side + 1) * 0.3) % 1.0
        draw.ellipse(img, x + side * 0.26 * s, y + s * (0.0 + 0.8 * ph), 0.05 * s, 0.09 * s, (0.3, 0.6, 1.0))


def blender(img, t, p):  # a jar on a base with a swirling smoothie inside
    s, x, y = p["s"], p["x"], p["y"]
    draw.rect(img, x - 0.55 * s, y + 0.6 * s, x + 0.55 * s, y + 1.0 * s, (0.2, 0.2, 0.22))
    draw.polygon(
        img,
        [
            (x - 0.6 * s, y - 0.9 * s),
            (x + 0.6 * s, y - 0.9 * s),
            (x + 0.4 * s, y + 0.6 * s),
            (x - 0.4 * s, y + 0.6 * s),
        ],
        (0.85, 0.92, 0.95),
    )
    ang = TAU * 2.5 * t
    for k in range(3):
        a = ang + k * TAU / 3
        draw.disc(
            img,
            x + 0.3 * s * math.cos(a),
            y + 0.1 * s + 0.35 * s * math.sin(a),
            0.18 * s,
            _c((0.95, 0.3 + 0.2 * k, 0.5), p),
        )
    draw.rect(img, x - 0.62 * s, y - 1.05 * s, x + 0.62 * s, y - 0.9 * s, DARK)


def clapping(img, t, p):  # two hands meeting three times a second
    s, x, y = p["s"], p["x"], p["y"]
    gap = 0.1 * s + 0.5 * s * abs(math.sin(TAU * 1.5 * p["speed"] * t + p["phase"]))
    for side in (-1, 1):
        hx = x + side * gap
        draw.ellipse(img, hx, y, 0.18 * s, 0.45 * s, _c(SKIN, p), angle=-side * 0.3)
        draw.line(
            img,
            hx + side * 0.05 * s,
            y + 0.4 * s,
            x + side * 0.9 * s,
            y + 1.2 * s,
            0.2 * s,
            _c((0.3, 0.3, 0.6), p),
        )


# index = LLP class index (mmcse.classes.LLP_CLASSES)
SPRITES = (
    speech, car, cheering, dog, cat, frying, basketball, fire_alarm, chainsaw, cello, banjo, singing, rooster,
    violin, vacuum, baby_laughter, accordion, lawn_mower, motorcycle, helicopter, acoustic_guitar, telephone,
    baby_cry, blender, clapping,
)  # fmt: skip
