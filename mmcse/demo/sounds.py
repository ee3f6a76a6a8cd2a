"""Audio signatures of the 25 LLP classes for the procedural demo (numpy synthesis at 16 kHz).

``SOUNDS[class_index](n, sr, rng) -> (n,) float32`` makes a whole clip's worth of one class's sound
with RMS about 1; the caller multiplies it by the event's on/off envelope. Instruments are harmonic
stacks with a class-specific pitch range, spectral tilt, vibrato and attack; machines are engine hums
and shaped noise; speech is formant babble; basketball, clapping and frying are impulse trains;
fire alarm and telephone are beeping and ringing tones.
"""

from __future__ import annotations

import numpy as np

TAU = 2 * np.pi


def _norm(x: np.ndarray) -> np.ndarray:
    return (x / (np.sqrt(np.mean(x * x)) + 1e-8)).astype(np.float32)


def box_smooth(x: np.ndarray, k: int) -> np.ndarray:
    """Centred moving average of width ``k`` samples (a cumulative sum, so O(n) whatever k is)."""
    k = max(int(k), 1)
    c = np.concatenate([[0.0], np.cumsum(np.asarray(x, np.float64))])
    lo = np.clip(np.arange(len(x)) - k // 2, 0, len(x))
    hi = np.clip(lo + k, 0, len(x))
    return ((c[hi] - c[lo]) / k).astype(np.float32)


def shaped_noise(n: int, sr: int, rng, lo: float, hi: float, tilt: float = 0.0) -> np.ndarray:
    """White noise band-passed to [lo, hi] Hz with a spectral tilt (dB per octave re 1 kHz)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sr)
    gain = ((f >= lo) & (f <= hi)).astype(np.float64)
    gain *= (np.maximum(f, 20.0) / 1000.0) ** (tilt / 6.02)
    return _norm(np.fft.irfft(spec * gain, n))


def harmonic(f0: np.ndarray, sr: int, amps, odd_only: bool = False) -> np.ndarray:
    """Sum of harmonics k*f0(t) with per-harmonic amplitudes ``amps[k-1]`` (scalars or (n,) arrays).

    sin(k*phase) comes from the recurrence sin((k+1)x) = 2cos(x)sin(kx) - sin((k-1)x): multiply-adds
    only, in float32, so 40 harmonics of a 10-s clip cost a few milliseconds.
    """
    cycles = np.cumsum(np.asarray(f0, np.float64)) / sr
    phase = (TAU * (cycles % 1.0)).astype(np.float32)
    f0 = np.asarray(f0, np.float32)
    s_prev, s = np.zeros_like(phase), np.sin(phase)
    two_cos = 2 * np.cos(phase)
    out = np.zeros_like(phase)
    limit = sr / 2 * 0.95
    for k, a in enumerate(amps, start=1):
        if not (odd_only and k % 2 == 0):
            out += np.where(k * f0 < limit, np.asarray(a, np.float32) * s, np.float32(0))
        s_prev, s = s, two_cos * s - s_prev
    return out


def note_track(n: int, sr: int, rng, lo: float, hi: float, note_s: tuple[float, float]) -> np.ndarray:
    """Piecewise-constant pitch (Hz) per sample: random notes on a semitone grid in [lo, hi]."""
    f0 = np.empty(n)
    i = 0
    while i < n:
        length = int(rng.uniform(*note_s) * sr)
        f0[i : i + length] = lo * 2 ** (rng.integers(0, int(12 * np.log2(hi / lo)) + 1) / 12)
        i += length
    return f0


def vibrato(n: int, sr: int, rate: float, depth: float, rng) -> np.ndarray:
    t = np.arange(n) / sr
    return 1.0 + depth * np.sin(TAU * rate * t + rng.uniform(0, TAU))


def pulses(n: int, sr: int, times, decay_s: float, shape="exp") -> np.ndarray:
    """Envelope with a decaying pulse starting at each time (seconds)."""
    env = np.zeros(n)
    length = int(decay_s * 6 * sr)
    kernel = np.exp(-np.arange(length) / (decay_s * sr))
    for t0 in times:
        i = int(t0 * sr)
        if 0 <= i < n:
            m = min(length, n - i)
            env[i : i + m] = np.maximum(env[i : i + m], kernel[:m])
    return env


def gates(n: int, sr: int, rng, on_s, off_s, ramp_s: float = 0.02) -> np.ndarray:
    """0/1 envelope of bursts with random on/off durations, smoothed by short ramps."""
    env = np.zeros(n)
    i = int(rng.uniform(0, off_s[1]) * sr)
    while i < n:
        on = int(rng.uniform(*on_s) * sr)
        env[i : i + on] = 1.0
        i += on + int(rng.uniform(*off_s) * sr)
    k = max(int(ramp_s * sr), 1)
    return box_smooth(env, k)


def _formants(k_f0: np.ndarray, formants, bw: float) -> np.ndarray:
    return sum(np.exp(-(((k_f0 - f) / bw) ** 2)) for f in formants)


def _voice(n, sr, rng, f0_lo, f0_hi, syll_rate, vowel_s, breath=0.05, vib=(0.0, 0.0), gate=None):
    """Harmonic voice with vowel formants that change every ``vowel_s`` seconds."""
    vowels = np.array([[730, 1090], [270, 2290], [530, 1840], [570, 840], [300, 870], [660, 1720]])
    t = np.arange(n) / sr
    f0 = f0_lo + (f0_hi - f0_lo) * (0.5 + 0.5 * np.sin(TAU * 0.3 * t + rng.uniform(0, TAU)))
    f0 = f0 * vibrato(n, sr, vib[0], vib[1], rng) if vib[1] else f0
    hop = 160  # harmonic amplitudes follow the formants at a 100 Hz control rate
    tc, f0c = t[::hop], f0[::hop]
    idx = rng.integers(0, len(vowels), size=int(n / (vowel_s * sr)) + 2)
    which = idx[(tc / vowel_s).astype(int)]
    f1, f2 = vowels[which, 0], vowels[which, 1]
    amps = []
    for k in range(1, 30):
        a = (
            0.3 * _formants(k * f0c, (0,), 400)
            + _formants(k * f0c, (f1,), 150)
            + _formants(k * f0c, (f2,), 200)
        ) / k**0.5
        amps.append(np.repeat(a, hop)[:n])
    x = harmonic(f0, sr, amps) + breath * shaped_noise(n, sr, rng, 300, 6000)
    env = (
        gate if gate is not None else np.clip(np.sin(TAU * syll_rate * t + rng.uniform(0, TAU)), 0, 1) ** 0.5
    )
    return _norm(x * env)


def speech(n, sr, rng):
    gate = gates(n, sr, rng, (0.12, 0.3), (0.04, 0.15)) * gates(n, sr, rng, (1.0, 3.0), (0.2, 0.6))
    return _voice(n, sr, rng, rng.uniform(95, 140), rng.uniform(170, 240), 4.0, 0.16, gate=gate)


def car(n, sr, rng):
    t = np.arange(n) / sr
    f0 = rng.uniform(35, 55) * (1 + 0.15 * np.sin(TAU * 0.1 * t + rng.uniform(0, TAU)))
    hum = harmonic(f0, sr, [1.0, 0.7, 0.5, 0.3, 0.2, 0.1])
    return _norm(_norm(hum) + 0.8 * shaped_noise(n, sr, rng, 30, 1200, tilt=-6))


def cheering(n, sr, rng):
    t = np.arange(n) / sr
    swell = 0.6 + 0.4 * np.sin(TAU * 0.25 * t + rng.uniform(0, TAU))
    crowd = shaped_noise(n, sr, rng, 400, 5000) * swell
    voices = _voice(n, sr, rng, 200, 380, 3, 0.4, breath=0.3)
    return _norm(crowd + 0.4 * voices)


def dog(n, sr, rng):
    times, t0 = [], rng.uniform(0, 0.4)
    while t0 < n / sr:  # barks in groups of 1-3
        for _ in range(int(rng.integers(1, 4))):
            times.append(t0)
            t0 += rng.uniform(0.25, 0.35)
        t0 += rng.uniform(0.5, 1.2)
    t = np.arange(n) / sr
    env = pulses(n, sr, times, 0.06)
    f0 = rng.uniform(350, 550) * (1 - 0.3 * np.minimum(env * 0 + (t % 0.3) / 0.3, 1))
    bark = harmonic(f0, sr, [1.0, 0.8, 0.6, 0.5, 0.3, 0.2]) + 0.4 * shaped_noise(n, sr, rng, 300, 3000)
    return _norm(bark * env)


def cat(n, sr, rng):
    times = np.cumsum(rng.uniform(0.9, 1.6, size=12)) - 0.6
    env = np.zeros(n)
    t = np.arange(n) / sr
    f0 = np.full(n, 500.0)
    for t0 in times:  # meow: pitch rises then falls over ~0.7 s
        m = (t >= t0) & (t < t0 + 0.7)
        u = (t[m] - t0) / 0.7
        env[m] = np.sin(np.pi * u) ** 0.7
        f0[m] = 480 + 350 * np.sin(np.pi * u)
    f0c = f0[::160]
    meow = harmonic(
        f0, sr, [np.repeat(_formants(k * f0c, (800, 1600), 300) + 0.2, 160)[:n] for k in range(1, 12)]
    )
    return _norm(meow * env)


def frying(n, sr, rng):
    hiss = shaped_noise(n, sr, rng, 2000, 7900, tilt=3)
    clicks = pulses(n, sr, rng.uniform(0, n / sr, size=int(60 * n / sr)), 0.003) * rng.standard_normal(n)
    return _norm(0.5 * hiss + _norm(clicks))


def basketball(n, sr, rng):
    period = rng.uniform(0.45, 0.6)
    times = np.arange(rng.uniform(0, period), n / sr, period)
    env = pulses(n, sr, times, 0.03)
    t = np.arange(n) / sr
    thump = np.sin(TAU * rng.uniform(110, 150) * t) + 0.5 * shaped_noise(n, sr, rng, 80, 1500)
    return _norm(thump * env)


def fire_alarm(n, sr, rng):
    t = np.arange(n) / sr
    beep = (((t * 2.0 + rng.uniform()) % 1.0) < 0.5).astype(np.float64)
    f = rng.uniform(2800, 3200)
    return _norm(np.sign(np.sin(TAU * f * t)) * 0.5 + np.sin(TAU * f * t)) * box_smooth(beep, 80)


def chainsaw(n, sr, rng):
    t = np.arange(n) / sr
    rev = 1 + 0.3 * (np.sin(TAU * 0.35 * t + rng.uniform(0, TAU)) > 0)
    f0 = rng.uniform(100, 130) * box_smooth(rev, 4000)
    saw = harmonic(f0, sr, [1 / k for k in range(1, 40)])
    return _norm(saw + 0.5 * shaped_noise(n, sr, rng, 1000, 6000))


def _bowed(n, sr, rng, lo, hi, note_s, tilt, vib_rate, vib_depth, k_max=25):
    f0 = note_track(n, sr, rng, lo, hi, note_s) * vibrato(n, sr, vib_rate, vib_depth, rng)
    x = harmonic(f0, sr, [1 / k**tilt for k in range(1, k_max)])
    return _norm(x + 0.03 * shaped_noise(n, sr, rng, 500, 5000))


def cello(n, sr, rng):
    return _bowed(n, sr, rng, 65, 260, (0.8, 2.0), 0.9, 5.0, 0.012)


def violin(n, sr, rng):
    return _bowed(n, sr, rng, 400, 1100, (0.3, 0.9), 0.7, 6.5, 0.015, k_max=14)


def _plucked(n, sr, rng, lo, hi, every_s, decay_s, tilt, strings=1):
    """Plucked strings: decaying harmonic notes (one template per pitch), started every ~``every_s``."""
    out = np.zeros(n, np.float32)
    length = int(4 * decay_s * sr)
    tt = np.arange(length) / sr
    templates: dict[float, np.ndarray] = {}
    steps = int(12 * np.log2(hi / lo)) + 1
    t0 = rng.uniform(0, every_s)
    while t0 < n / sr:
        i = int(t0 * sr)
        for _ in range(strings):
            f = lo * 2 ** (rng.integers(0, steps) / 12)
            if f not in templates:
                amps = [np.exp(-tt * k**0.7 / decay_s) / k**tilt for k in range(1, 12)]
                templates[f] = harmonic(np.full(length, f), sr, amps)
            m = min(length, n - i)
            out[i : i + m] += templates[f][:m]
        t0 += every_s * rng.uniform(0.8, 1.2)
    return _norm(out)


def banjo(n, sr, rng):
    return _plucked(n, sr, rng, 200, 600, 0.14, 0.12, 0.5)


def acoustic_guitar(n, sr, rng):
    return _plucked(n, sr, rng, 82, 330, 0.5, 0.6, 1.0, strings=3)


def singing(n, sr, rng):
    gate = gates(n, sr, rng, (0.8, 2.0), (0.1, 0.4), ramp_s=0.05)
    return _voice(
        n,
        sr,
        rng,
        rng.uniform(220, 300),
        rng.uniform(330, 500),
        1.0,
        0.8,
        breath=0.02,
        vib=(5.5, 0.03),
        gate=gate,
    )


def rooster(n, sr, rng):
    t = np.arange(n) / sr
    env, f0 = np.zeros(n), np.full(n, 600.0)
    t0 = rng.uniform(0, 1.0)
    while t0 < n / sr:  # cock-a-doodle-doo: four syllables, the last one long
        for k, (dur, f) in enumerate([(0.15, 600), (0.12, 750), (0.15, 800), (0.6, 700)]):
            m = (t >= t0) & (t < t0 + dur)
            env[m] = np.sin(np.pi * (t[m] - t0) / dur) ** 0.5
            f0[m] = f * (1 + 0.1 * (k == 3) * np.sin(np.pi * (t[m] - t0) / dur))
            t0 += dur + 0.03
        t0 += rng.uniform(1.2, 2.5)
    x = harmonic(f0, sr, [1.0, 0.9, 0.7, 0.5, 0.4, 0.2]) * (1 + 0.3 * np.sin(TAU * 40 * t))
    return _norm(x * env)


def vacuum(n, sr, rng):
    t = np.arange(n) / sr
    whine = np.sin(TAU * rng.uniform(700, 900) * t) + 0.5 * np.sin(TAU * 2 * 800 * t)
    return _norm(shaped_noise(n, sr, rng, 200, 7000, tilt=-1) + 0.4 * whine)


def baby_laughter(n, sr, rng):
    gate = gates(n, sr, rng, (0.06, 0.1), (0.06, 0.12), ramp_s=0.01) * gates(
        n, sr, rng, (0.8, 1.6), (0.3, 0.8)
    )
    return _voice(n, sr, rng, 330, 420, 5.0, 0.15, breath=0.4, gate=gate)


def accordion(n, sr, rng):
    f0 = note_track(n, sr, rng, 130, 520, (0.4, 1.0))
    chord = sum(
        harmonic(f0 * r * d, sr, [1, 0, 0.6, 0, 0.4, 0, 0.3, 0, 0.2], odd_only=True)
        for r in (1.0, 1.26, 1.5)
        for d in (1.0, 1.004)
    )
    return _norm(chord)


def lawn_mower(n, sr, rng):
    t = np.arange(n) / sr
    f0 = rng.uniform(25, 35) * (1 + 0.03 * np.sin(TAU * 0.5 * t))
    put = harmonic(f0, sr, [1 / k**0.5 for k in range(1, 60)])
    return _norm(_norm(put) + 0.6 * shaped_noise(n, sr, rng, 500, 4000))


def motorcycle(n, sr, rng):
    t = np.arange(n) / sr
    rev = 0.5 + 0.5 * np.sin(TAU * rng.uniform(0.15, 0.3) * t + rng.uniform(0, TAU))
    f0 = rng.uniform(60, 80) * (1 + 1.2 * rev**2)
    return _norm(
        harmonic(f0, sr, [1 / k**0.7 for k in range(1, 30)]) + 0.3 * shaped_noise(n, sr, rng, 100, 3000)
    )


def helicopter(n, sr, rng):
    rate = rng.uniform(5.5, 7.5)
    env = pulses(n, sr, np.arange(0, n / sr, 1 / rate), 0.04) + 0.15
    return _norm(shaped_noise(n, sr, rng, 40, 2500, tilt=-4) * env)


def telephone(n, sr, rng):
    t = np.arange(n) / sr
    ring = ((t + rng.uniform(0, 2)) % 2.0 < 1.0).astype(np.float64) * (np.sin(TAU * 20 * t) > 0)
    tone = np.sin(TAU * 440 * t) + np.sin(TAU * 480 * t) + 0.5 * np.sin(TAU * 1320 * t)
    return _norm(tone * box_smooth(ring, 40))


def baby_cry(n, sr, rng):
    gate = gates(n, sr, rng, (0.7, 1.5), (0.2, 0.5), ramp_s=0.06)
    x = _voice(n, sr, rng, 420, 560, 1.0, 0.5, breath=0.15, vib=(9.0, 0.04), gate=gate)
    return _norm(x * (1 + 0.3 * np.sign(np.sin(TAU * 30 * np.arange(n) / sr))))


def blender(n, sr, rng):
    t = np.arange(n) / sr
    f0 = rng.uniform(250, 350) * (1 + 0.08 * np.sin(TAU * 0.7 * t))
    return _norm(
        harmonic(f0, sr, [1 / k**0.3 for k in range(1, 20)]) + 0.8 * shaped_noise(n, sr, rng, 1500, 7000)
    )


def clapping(n, sr, rng):
    period = rng.uniform(0.3, 0.4)
    times = np.arange(rng.uniform(0, period), n / sr, period)
    env = pulses(n, sr, times + rng.normal(0, 0.01, size=len(times)), 0.008)
    return _norm(shaped_noise(n, sr, rng, 800, 6000) * env)


def ambient(n: int, sr: int, rng, tilt: float, lo: float, hi: float) -> np.ndarray:
    """Scene background noise (RMS 1) with the scene's spectral shape."""
    return shaped_noise(n, sr, rng, lo, hi, tilt)


# index = LLP class index (mmcse.classes.LLP_CLASSES)
SOUNDS = (
    speech, car, cheering, dog, cat, frying, basketball, fire_alarm, chainsaw, cello, banjo, singing, rooster,
    violin, vacuum, baby_laughter, accordion, lawn_mower, motorcycle, helicopter, acoustic_guitar, telephone,
    baby_cry, blender, clapping,
)  # fmt: skip
