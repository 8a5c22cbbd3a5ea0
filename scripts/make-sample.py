#!/usr/bin/env python3
"""Draws samples/landscape.png, the picture the README's first command edits.

A procedural landscape (sky, sun, hills, lake) so the repository ships a picture
of its own. Standard library only; deterministic.
"""
import math, random, struct, sys, zlib

W, H = 960, 640
rnd = random.Random(7)
GRID = [[rnd.random() for _ in range(66)] for _ in range(66)]


def noise(x, y):
    xi, yi = int(x), int(y)
    fx, fy = x - xi, y - yi
    sx, sy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
    a = GRID[yi % 66][xi % 66]; b = GRID[yi % 66][(xi + 1) % 66]
    c = GRID[(yi + 1) % 66][xi % 66]; d = GRID[(yi + 1) % 66][(xi + 1) % 66]
    return (a + (b - a) * sx) * (1 - sy) + (c + (d - c) * sx) * sy


def fbm(x, y, octaves=5):
    v, amp, f = 0.0, 0.5, 1.0
    for _ in range(octaves):
        v += amp * noise(x * f, y * f)
        amp *= 0.5; f *= 2.0
    return v


def mix(a, b, t):
    return tuple(a[i] + (b[i] - a[i]) * t for i in range(3))


def pixel(x, y):
    u, v = x / W, y / H
    horizon = 0.55
    ridge_far = 0.42 + 0.10 * fbm(u * 4, 1.5)
    ridge_near = 0.50 + 0.12 * fbm(u * 3 + 9, 4.5)
    if v < horizon:
        col = mix((70, 120, 200), (235, 200, 160), (v / horizon) ** 1.6)
        cloud = max(0.0, fbm(u * 6, v * 12) - 0.5) * 2.2
        col = mix(col, (250, 250, 252), min(1.0, cloud))
        d = math.hypot(u - 0.72, (v - 0.30) * H / W)
        if d < 0.045:
            col = (255, 236, 180)
        elif d < 0.12:
            col = mix(col, (255, 220, 160), (0.12 - d) / 0.075 * 0.6)
        if v > ridge_far:
            col = mix((96, 110, 140), (120, 130, 150), fbm(u * 20, v * 20))
        if v > ridge_near:
            col = mix((52, 92, 58), (88, 128, 70), fbm(u * 30, v * 30))
    else:
        t = (v - horizon) / (1 - horizon)
        if v < 0.72 + 0.05 * math.sin(u * 7):
            ripple = 0.08 * math.sin(v * 300 + fbm(u * 10, v * 40) * 6)
            col = mix((60, 100, 160), (150, 170, 200), 0.5 + ripple - t * 0.5)
        else:
            grass = fbm(u * 40, v * 40)
            col = mix((60, 110, 45), (140, 150, 60), grass)
            col = mix(col, (40, 70, 30), t * 0.5)
    g = (fbm(u * 200, v * 200, 2) - 0.5) * 10
    return tuple(max(0, min(255, int(c + g))) for c in col)


def png(path, w, h, color_type, rows):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(b"IEND", b"")
    open(path, "wb").write(data)


def sun_mask(path):
    """White disc around the sun: the area the README's example asks to change."""
    rows = bytearray()
    cx, cy, r = 0.72 * W, 0.30 * H, 80
    for y in range(H):
        rows.append(0)
        rows.extend(255 if math.hypot(x - cx, y - cy) <= r else 0 for x in range(W))
    png(path, W, H, 0, rows)


def main(path):
    rows = bytearray()
    for y in range(H):
        rows.append(0)
        for x in range(W):
            rows.extend(pixel(x, y))
    png(path, W, H, 2, rows)
    sun_mask(path.replace(".png", "-sun-mask.png"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "samples/landscape.png")
