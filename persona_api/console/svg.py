"""The preference latent as a server-rendered SVG: prototypes, the user's ideal point and its
one-sigma uncertainty ellipse, in the plane that spreads the prototypes most.

The plane is the first two principal directions of the prototypes (rows of ``U``); the user's
point is ``a = U^T w`` and its covariance ``U^T S U``, both projected there. Only numbers go into
the markup (no text from users), and styling is by attributes, which the page's CSP allows.
"""

from __future__ import annotations

import numpy as np
from markupsafe import Markup
from numpy.typing import NDArray

SIZE = 320
PAD = 28


def _plane(prototypes: NDArray[np.float64]) -> NDArray[np.float64]:
    """A D x 2 basis: the prototypes' two main directions (padded for fewer than two)."""
    centred = prototypes - prototypes.mean(axis=0)
    _, _, vt = np.linalg.svd(centred if np.any(centred) else prototypes, full_matrices=False)
    basis = vt[:2].T
    if basis.shape[1] < 2:
        basis = np.hstack([basis, np.zeros((basis.shape[0], 2 - basis.shape[1]))])
    return np.asarray(basis, dtype=np.float64)


def latent_plot(
    prototypes: NDArray[np.float64], mean: NDArray[np.float64], covariance: NDArray[np.float64]
) -> Markup:
    """The SVG element (safe markup: numbers only)."""
    basis = _plane(prototypes)
    protos = prototypes @ basis
    point = (prototypes.T @ mean) @ basis
    spread = basis.T @ prototypes.T @ covariance @ prototypes @ basis
    values, vectors = np.linalg.eigh((spread + spread.T) / 2)
    radii = np.sqrt(np.clip(values, 0.0, None))
    extent = float(np.max(np.abs(np.vstack([protos, point[None, :]])))) + float(np.max(radii)) + 1e-9

    def x(v: float) -> float:
        return round(SIZE / 2 + v / extent * (SIZE / 2 - PAD), 2)

    def y(v: float) -> float:
        return round(SIZE / 2 - v / extent * (SIZE / 2 - PAD), 2)

    scale = (SIZE / 2 - PAD) / extent
    angle = round(float(np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1]))), 2)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SIZE} {SIZE}" width="{SIZE}" '
        f'height="{SIZE}" role="img" aria-label="preference latent">',
        f'<rect x="0" y="0" width="{SIZE}" height="{SIZE}" fill="#fbfbfd" stroke="#d0d4dc"/>',
        f'<line x1="{PAD}" y1="{SIZE / 2}" x2="{SIZE - PAD}" y2="{SIZE / 2}" stroke="#e3e6ec"/>',
        f'<line x1="{SIZE / 2}" y1="{PAD}" x2="{SIZE / 2}" y2="{SIZE - PAD}" stroke="#e3e6ec"/>',
    ]
    for i, (px, py) in enumerate(protos):
        parts.append(f'<circle cx="{x(px)}" cy="{y(py)}" r="5" fill="#8a94a6"/>')
        parts.append(f'<text x="{x(px) + 7}" y="{y(py) - 6}" font-size="11" fill="#5b6475">P{i + 1}</text>')
    cx, cy = x(point[0]), y(point[1])
    parts.append(
        f'<ellipse cx="{cx}" cy="{cy}" rx="{round(float(radii[1]) * scale, 2)}" '
        f'ry="{round(float(radii[0]) * scale, 2)}" transform="rotate({-angle} {cx} {cy})" '
        'fill="#3b6fd8" fill-opacity="0.15" stroke="#3b6fd8" stroke-dasharray="4 3"/>'
    )
    parts.append(f'<circle cx="{cx}" cy="{cy}" r="6" fill="#3b6fd8" data-role="user-point"/>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  # built from numbers only
